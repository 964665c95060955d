import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commonMistakes } from '../examples/errors.js';
import { escapeCell, escapeProse } from './markdown.js';
import { generated, repoRoot } from './paths.js';

// Run as its own process (generate.ts spawns it): only @lorakit/lora and @lorakit/models are loaded, as
// in a user's program that has not imported a plugin — the messages on the page are the ones they get.
const empty = mkdtempSync(join(tmpdir(), 'lorakit-docs-empty-'));
try {
  const mistakes = await commonMistakes(join(repoRoot, 'apps', 'cli', 'demo', 'base'), empty);
  const rows = mistakes.map(({ mistake, kind, message }) => {
    // The temporary folder gets a readable name; the model's module list is cut after three names.
    const shown = message
      .replaceAll(empty, './not-a-model')
      .replace(/(Leaf modules in this model: (?:[^,]+, ){3})[\s\S]*$/, '$1…');
    return `| ${escapeCell(mistake)} | \`${kind}\` | <code>${escapeCell(escapeProse(shown))}</code> |`;
  });
  writeFileSync(
    join(generated.parts, 'error-catalog.md'),
    ['| mistake | error class | message |', '| --- | --- | --- |', ...rows, ''].join('\n'),
  );
  console.log(`${rows.length} messages`);
} finally {
  rmSync(empty, { recursive: true, force: true });
}
