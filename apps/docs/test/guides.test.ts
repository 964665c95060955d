import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { docsPackageRoot, siteRoot } from '../scripts/paths.js';

// The guides show code only through `<<<` imports of examples/ files, and every example file runs in a
// test: the pages cannot drift from code that works.
const guideDir = join(siteRoot, 'guide');
const guides = readdirSync(guideDir).filter((name) => name.endsWith('.md'));
const examplesDir = join(docsPackageRoot, 'examples');
const examples = readdirSync(examplesDir);
const tests = readdirSync(join(docsPackageRoot, 'test'))
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => readFileSync(join(docsPackageRoot, 'test', name), 'utf8'))
  .join('\n');

/** The fenced code blocks of a markdown text: their language and body. */
function fences(markdown: string): { language: string; body: string }[] {
  return [...markdown.matchAll(/^```(\S*)[^\n]*\n([\s\S]*?)^```/gm)].map((match) => ({
    language: match[1]!,
    body: match[2]!,
  }));
}

describe('guides', () => {
  it('has the ten guides of the issue', () => {
    expect(guides.sort()).toEqual([
      'backends.md',
      'getting-started.md',
      'initializations.md',
      'lora-config.md',
      'merging.md',
      'peft-interop.md',
      'plugins.md',
      'quantized.md',
      'training.md',
      'troubleshooting.md',
    ]);
  });

  for (const guide of guides) {
    it(`${guide}: code comes from examples/ (no inline TypeScript, JavaScript or Python; no inline lorakit commands)`, () => {
      const markdown = readFileSync(join(guideDir, guide), 'utf8');
      const inline = fences(markdown).filter(
        ({ language, body }) =>
          /^(ts|typescript|js|javascript|mjs|py|python)$/.test(language) || /^\s*lorakit\s/m.test(body),
      );
      expect(inline).toEqual([]);
      for (const match of markdown.matchAll(/^<<< @\/\.\.\/examples\/([^{#\s]+)/gm)) {
        expect(existsSync(join(examplesDir, match[1]!)), `${guide} imports examples/${match[1]}`).toBe(true);
      }
    });
  }

  it('every example is shown in a guide and run by a test', () => {
    const shown = guides.map((guide) => readFileSync(join(guideDir, guide), 'utf8')).join('\n');
    const unshown = examples.filter((file) => !shown.includes(`<<< @/../examples/${file}`));
    const untested = examples.filter(
      (file) => !tests.includes(file.replace(/\.ts$/, '.js')) && !tests.includes(file),
    );
    expect({ unshown, untested }).toEqual({ unshown: [], untested: [] });
  });
});
