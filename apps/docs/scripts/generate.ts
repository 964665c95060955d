import { mkdirSync } from 'node:fs';
import { generateApiReference } from './api.js';
import { generateCliReference } from './cli-reference.js';
import { writeBenchmarkPlots } from './figures/benchmark-plots.js';
import { writeFigures } from './figures/write-figures.js';
import { generateLoraConfigTable } from './lora-config-table.js';
import { generated } from './paths.js';

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
await step(
  'CLI reference',
  generateCliReference,
  (r) => `${r.commands.join(', ')}; --backend ${r.backendChoices.join('|')}`,
);
await step('API reference', generateApiReference, (r) => r.packages.join(', '));
await step('LoraConfig table', generateLoraConfigTable, (r) => `${r.fields} fields`);
await step('benchmark plots', writeBenchmarkPlots, (r) => r.files.join(', '));
await step('figures', writeFigures, (r) => r.files.join(', '));
