import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIELD_KEYS } from '@lorakit/lora';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsPackageRoot, siteRoot } from '../scripts/paths.js';
import { brokenLinks, externalResources, filesUnder } from './site-files.js';
import { serveStatic } from './static-server.js';

// The built site (turbo builds the package before its tests), served on 127.0.0.1 and driven in Debian's
// Chromium: every page loads without a console error or a request to another host, links resolve, the
// local search works, and screenshots land in test-artifacts/ for a person to look at.
const dist = join(siteRoot, '.vitepress', 'dist');
const artifacts = join(docsPackageRoot, 'test-artifacts');
const CHROMIUM = process.env.LORAKIT_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let server: Awaited<ReturnType<typeof serveStatic>>;
let context: BrowserContext;
let userDataDir: string;
const offHost: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} has no built site: run \`pnpm --filter @lorakit/docs build\` first`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} does not exist: install Debian's browser (apt-get install -y chromium)`);
  }
  server = await serveStatic(dist);
  userDataDir = mkdtempSync(join(tmpdir(), 'lorakit-docs-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  // Nothing may leave 127.0.0.1: record and block every other request (fonts, CDNs, analytics…).
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(server.origin) || url.startsWith('data:') || url.startsWith('blob:'))
      return route.continue();
    offHost.push(url);
    return route.abort();
  });
  mkdirSync(artifacts, { recursive: true });
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

const pages = () => filesUnder(dist).filter((file) => file.endsWith('.html') && file !== '404.html');

/** The <title> of a built page, as the browser shows it. */
function titleOf(path: string): string {
  const raw = /<title>([^<]*)<\/title>/.exec(readFileSync(join(dist, path), 'utf8'))?.[1] ?? '';
  return raw
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&#39;', "'")
    .replaceAll('&amp;', '&');
}

/** Records console errors, uncaught page errors and failed same-origin responses of `page`. */
function watch(page: Page, problems: string[]): void {
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`${page.url()}: console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`${page.url()}: page error: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400)
      problems.push(`${page.url()}: HTTP ${response.status()} for ${response.url()}`);
  });
}

/** A full load of `path` (server HTML, then hydration), waiting until the page has rendered. */
async function load(page: Page, path: string): Promise<void> {
  await page.goto(`${server.origin}/${path}`, { waitUntil: 'load' });
  await page.waitForFunction((title) => document.title === title, titleOf(path));
}

/**
 * A client-side navigation to `path`, as a click on a link does: VitePress's router fetches the page's
 * chunk and renders it. The test waits for the page's own title.
 */
async function navigate(page: Page, path: string): Promise<void> {
  await page.evaluate((href) => {
    const link = document.createElement('a');
    link.href = href;
    document.body.append(link);
    link.click();
    link.remove();
  }, `/${path}`);
  await page.waitForFunction(
    ([pathname, title]) => location.pathname === pathname && document.title === title,
    [`/${path}`, titleOf(path)] as const,
  );
}

describe('the built site', () => {
  it('loads no resource from another host (HTML and CSS)', () => {
    expect(externalResources(dist, filesUnder(dist))).toEqual([]);
  });

  it('has no broken internal link or #anchor', () => {
    const all = pages();
    expect(all.length).toBeGreaterThan(50);
    expect(brokenLinks(dist, all)).toEqual([]);
  });

  it('every page renders in Chromium with no console error, failed request or request off 127.0.0.1', async () => {
    // Guides, the CLI reference and the package pages load in full (server HTML + hydration); the ~200
    // class and interface pages are reached by client-side navigation, as a reader clicking through the
    // API sidebar does (a full load of each would take minutes on two cores).
    const all = pages();
    const full = all.filter((path) => !/^api\/[^/]+\/(classes|interfaces|enumerations)\//.test(path));
    const navigated = all.filter((path) => !full.includes(path));
    const workers = 2;
    const problems: string[] = [];
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        const page = await context.newPage();
        watch(page, problems);
        for (let i = worker; i < full.length; i += workers) await load(page, full[i]!);
        for (let i = worker; i < navigated.length; i += workers) await navigate(page, navigated[i]!);
        await page.close();
      }),
    );
    expect(full.length + navigated.length).toBe(all.length);
    expect(problems).toEqual([]);
    expect(offHost).toEqual([]);
  }, 180_000);

  it('the local search finds add_weighted_adapter', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/index.html`);
    await page.locator('#local-search button, button.DocSearch-Button').first().click();
    const input = page.locator('.VPLocalSearchBox input');
    await input.fill('add_weighted_adapter');
    const results = page.locator('.VPLocalSearchBox .results a');
    await results.first().waitFor();
    const targets = await results.evaluateAll((links) =>
      links.map((link) => link.getAttribute('href') ?? ''),
    );
    expect(targets.some((href) => href.includes('/guide/merging'))).toBe(true);
    await page.close();
  });

  it('the API page of LoraConfig lists its fields', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}/api/lora/classes/LoraConfig.html`);
    const text = (await page.locator('.vp-doc').textContent()) ?? '';
    expect(text).toContain('Class: LoraConfig');
    const missing = Object.keys(FIELD_KEYS).filter((field) => field !== 'peftType' && !text.includes(field));
    expect(missing).toEqual([]);
    expect(text).toContain('peftType');
    await page.close();
  });

  it('saves screenshots of the home page, a guide and an API page at desktop and mobile widths', async () => {
    const shots = [
      ['home', 'index.html'],
      ['guide-merging', 'guide/merging.html'],
      ['api-lora-config', 'api/lora/classes/LoraConfig.html'],
    ] as const;
    const sizes = [
      ['desktop', { width: 1280, height: 800 }],
      ['mobile', { width: 390, height: 844 }],
    ] as const;
    for (const [size, viewport] of sizes) {
      const page = await context.newPage();
      await page.setViewportSize(viewport);
      for (const [name, path] of shots) {
        await page.goto(`${server.origin}/${path}`, { waitUntil: 'load' });
        const file = join(artifacts, `${name}-${size}.png`);
        // Desktop: the whole page; mobile: what a phone shows first, plus the guide's first table.
        await page.screenshot({ path: file, fullPage: size === 'desktop' && name !== 'api-lora-config' });
        expect(existsSync(file)).toBe(true);
        if (size === 'mobile' && name === 'guide-merging') {
          await page
            .locator('.vp-doc table')
            .first()
            .screenshot({ path: join(artifacts, `${name}-${size}-table.png`) });
        }
      }
      await page.close();
    }
  });
});
