import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { column, numberIn, ratioIn, tablesUnder } from './markdown-table.js';

const dir = mkdtempSync(join(tmpdir(), 'lorakit-docs-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const readme = join(dir, 'README.md');
writeFileSync(
  readme,
  [
    '# pkg',
    '## Benchmarks',
    '### GEMM (`bench/gemm.bench.ts`)',
    '| shape | ours ms | ratio |',
    '| ----: | ------: | ----: |',
    '| 256³  | 1.5     | 0.93× |',
    '| 512³  | 11.29 s | 1.35× (76.1 ms) |',
    '',
    'text',
    '',
    '| a \\| b | c |',
    '| --- | --- |',
    '| x | y |',
    '### Other',
    '| not | this |',
    '| --- | --- |',
  ].join('\n'),
);

describe('tablesUnder', () => {
  it('reads every table of a section, up to the next heading of its level', () => {
    const tables = tablesUnder(readme, 'GEMM (`bench');
    expect(tables).toEqual([
      {
        header: ['shape', 'ours ms', 'ratio'],
        rows: [
          ['256³', '1.5', '0.93×'],
          ['512³', '11.29 s', '1.35× (76.1 ms)'],
        ],
      },
      { header: ['a \\| b', 'c'], rows: [['x', 'y']] },
    ]);
  });

  it('names the file and the heading when the section is missing or has no table', () => {
    expect(() => tablesUnder(readme, 'Llama')).toThrow(`[docs] ${readme} has no heading containing "Llama"`);
    writeFileSync(join(dir, 'empty.md'), '## Speed\ntext only\n');
    expect(() => tablesUnder(join(dir, 'empty.md'), 'Speed')).toThrow(
      `[docs] ${join(dir, 'empty.md')}: no table under "Speed"`,
    );
  });
});

describe('column, numberIn, ratioIn', () => {
  const [table] = tablesUnder(readme, 'GEMM (`bench');
  it('finds a column by part of its header and lists the headers when it cannot', () => {
    expect(column(table!, 'ours')).toEqual(['1.5', '11.29 s']);
    expect(() => column(table!, 'numpy')).toThrow(
      '[docs] no column "numpy" in a benchmark table; columns: shape | ours ms | ratio',
    );
  });

  it('reads numbers in their units', () => {
    expect(numberIn('11.29 s', { toMs: true })).toBe(11290);
    expect(numberIn('561 ms', { toMs: true })).toBe(561);
    expect(numberIn('250 µs', { toMs: true })).toBe(0.25);
    expect(numberIn('**0.93×**')).toBe(0.93);
    expect(numberIn('')).toBeNaN();
    expect(ratioIn('40.8 ms, 0.68×')).toBe(0.68);
    expect(ratioIn('40.8 ms')).toBeNaN();
  });
});
