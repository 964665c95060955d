import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { afterAll, describe, expect, it, vi } from 'vitest';

// The README's TypeScript examples run as written, on the PEFT `merges` fixture: its tiny Llama for
// ./my-llama, its adapters a and b for ./adapter-a and ./adapter-b.
const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const merges = join(peftFixturesDir(), 'merges');
const scratch = mkdtempSync(join(tmpdir(), 'lorakit-merge-readme-'));
const written: string[] = [];

/** What each example prints, as its comments say. */
const printed = [[[4, 4]], [[4, 6]], [[[0, -0, 3, -4]], [[0, 2, 3, 4]]]];

describe('README examples', () => {
  it('has three examples', () => expect(blocks.length).toBe(3));
  for (const [i, code] of blocks.entries()) {
    it(`example ${i + 1} runs and prints what its comments say`, async () => {
      const file = join(root, 'test', `.readme-example-${i}.mts`);
      written.push(file);
      writeFileSync(
        file,
        code
          .replaceAll("'./my-llama'", `'${join(merges, 'base')}'`)
          .replaceAll("'./adapter-a'", `'${join(merges, 'adapter', 'a')}'`)
          .replaceAll("'./adapter-b'", `'${join(merges, 'adapter', 'b')}'`)
          .replaceAll("'./merged'", `'${join(scratch, 'merged')}'`),
      );
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await import(file);
        expect(log.mock.calls).toEqual(printed[i]);
      } finally {
        log.mockRestore();
      }
    });
  }
  afterAll(() => {
    for (const file of written) rmSync(file, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  });
});
