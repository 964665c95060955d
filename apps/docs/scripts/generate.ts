import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { generateApiReference } from './api.js';
import { generateCliReference } from './cli-reference.js';
import { writeBenchmarkPlots } from './figures/benchmark-plots.js';
import { writeFigures } from './figures/write-figures.js';
import { generateLoraConfigTable } from './lora-config-table.js';
import { docsPackageRoot, generated } from './paths.js';

/** Everything the site builds from the code: API pages, the CLI reference, tables, figures and plots. */
async function step<T>(
  label: string,
  run: () => T | Promise<T>,
  describe: (result: T) => string,
): Promise<void> {
  const started = performance.now();
  const result = await run();
  console.log(
    `[docs] ${label}: ${describe(result)} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
}

for (const dir of Object.values(generated)) mkdirSync(dir, { recursive: true });
// First, in a process of its own: no plugin is loaded yet there (this process imports several below).
await step(
  'error catalog',
  () =>
    execFileSync(
      process.execPath,
      [
        '--conditions=@lorakit/source',
        '--import',
        'tsx',
        join(docsPackageRoot, 'scripts', 'error-catalog.ts'),
      ],
      {
        encoding: 'utf8',
      },
    ).trim(),
  (result) => result,
);
await step(
  'CLI reference',
  generateCliReference,
  (r) => `${r.commands.join(', ')}; --backend ${r.backendChoices.join('|')}`,
);
await step('API reference', generateApiReference, (r) => r.packages.join(', '));
await step('LoraConfig table', generateLoraConfigTable, (r) => `${r.fields} fields`);
await step('benchmark plots', writeBenchmarkPlots, (r) => r.files.join(', '));
await step('figures', writeFigures, (r) => r.files.join(', '));
