import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveUrlPath } from './static-server.js';

/** Every file under `dir`, as paths relative to it (forward slashes). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'));
}

/** The href of every <a> in an HTML page. */
export function anchorsOf(html: string): string[] {
  return [...html.matchAll(/<a\b[^>]*?\shref="([^"]*)"/g)].map((match) => match[1]!.replaceAll('&amp;', '&'));
}

/** The ids a page defines (anchor targets). */
export function idsOf(html: string): Set<string> {
  return new Set([...html.matchAll(/\sid="([^"]+)"/g)].map((match) => match[1]!));
}

/**
 * Internal links of the built site that lead nowhere: the target file does not exist, or its #fragment
 * is no id on the target page. External links (with a scheme) and mailto: are not followed.
 */
export function brokenLinks(root: string, pages: readonly string[]): string[] {
  const idCache = new Map<string, Set<string>>();
  const broken: string[] = [];
  for (const page of pages) {
    const html = readFileSync(join(root, page), 'utf8');
    for (const href of new Set(anchorsOf(html))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue;
      const url = new URL(href, `http://site/${page}`);
      const file = resolveUrlPath(root, url.pathname);
      if (!file) {
        broken.push(`${page} → ${href} (no such page)`);
        continue;
      }
      const fragment = decodeURIComponent(url.hash.slice(1));
      if (!fragment || !file.endsWith('.html')) continue;
      let ids = idCache.get(file);
      if (!ids) {
        ids = idsOf(readFileSync(file, 'utf8'));
        idCache.set(file, ids);
      }
      if (!ids.has(fragment)) broken.push(`${page} → ${href} (no id "${fragment}" there)`);
    }
  }
  return broken;
}

/**
 * Resources the site would load from another host: script/link/img/iframe/source URLs in HTML, and url()
 * or @import in CSS. (Plain <a href> links to other sites are fine: they load nothing.)
 */
export function externalResources(root: string, files: readonly string[]): string[] {
  const found: string[] = [];
  const external = /^(?:https?:)?\/\//i;
  for (const file of files) {
    if (file.endsWith('.html')) {
      const html = readFileSync(join(root, file), 'utf8');
      for (const match of html.matchAll(
        /<(script|link|img|iframe|source|video|audio)\b[^>]*?\s(?:src|href|srcset)="([^"]*)"/gi,
      )) {
        if (external.test(match[2]!)) found.push(`${file}: <${match[1]}> ${match[2]}`);
      }
    } else if (file.endsWith('.css')) {
      const css = readFileSync(join(root, file), 'utf8');
      for (const match of css.matchAll(/(?:url\(\s*['"]?|@import\s+['"])((?:https?:)?\/\/[^'")\s]+)/gi)) {
        found.push(`${file}: ${match[1]}`);
      }
    }
  }
  return found;
}
