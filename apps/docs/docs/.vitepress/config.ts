import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig } from 'vitepress';

const siteRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The API sidebar typedoc-vitepress-theme wrote (scripts/api.ts); `pnpm generate` makes it. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const file = join(siteRoot, 'api', 'typedoc-sidebar.json');
  if (!existsSync(file)) {
    throw new Error(`[docs] ${file} does not exist: run \`pnpm --filter @lorakit/docs generate\` first`);
  }
  return [{ text: 'Packages', link: '/api/' }, ...JSON.parse(readFileSync(file, 'utf8'))];
}

const guide: DefaultTheme.SidebarItem[] = [
  {
    text: 'Start',
    items: [
      { text: 'Getting started', link: '/guide/getting-started' },
      { text: 'LoraConfig', link: '/guide/lora-config' },
      { text: 'Training', link: '/guide/training' },
    ],
  },
  {
    text: 'Adapters',
    items: [
      { text: 'Initializations', link: '/guide/initializations' },
      { text: 'Merging adapters', link: '/guide/merging' },
      { text: 'Quantized bases', link: '/guide/quantized' },
      { text: 'PEFT ⇄ lorakit', link: '/guide/peft-interop' },
    ],
  },
  {
    text: 'Running',
    items: [
      { text: 'Backends and speed', link: '/guide/backends' },
      { text: 'Errors and troubleshooting', link: '/guide/troubleshooting' },
    ],
  },
  {
    text: 'Extending',
    items: [{ text: 'Writing a plugin', link: '/guide/plugins' }],
  },
];

export default defineConfig({
  title: 'lorakit',
  description: "LoRA fine-tuning for TypeScript and Node.js with Hugging Face PEFT's feature set.",
  lang: 'en-US',
  // Fragments that pages include (`<!--@include: -->`), not pages of their own.
  srcExclude: ['parts/**'],
  // Plain .html files: any static server (and the test's) serves them without rewrites.
  cleanUrls: false,
  lastUpdated: false,
  // Every internal link must resolve: VitePress fails the build on a dead one.
  ignoreDeadLinks: false,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: '/logo.svg' }]],
  markdown: { lineNumbers: false },
  themeConfig: {
    logo: '/logo.svg',
    nav: [
      { text: 'Guide', link: '/guide/getting-started', activeMatch: '/guide/' },
      { text: 'CLI', link: '/cli/', activeMatch: '/cli/' },
      { text: 'API', link: '/api/', activeMatch: '/api/' },
    ],
    sidebar: {
      '/guide/': guide,
      '/cli/': [{ text: 'CLI reference', link: '/cli/' }],
      '/api/': apiSidebar(),
    },
    // Local search: the index is built with the site and searched in the browser; nothing leaves the page.
    search: { provider: 'local' },
    outline: { level: [2, 3] },
    footer: { message: 'Apache-2.0. Built offline from the lorakit repository.' },
  },
});
