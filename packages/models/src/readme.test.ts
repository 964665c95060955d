import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { testDataDir } from '../test/helpers.js';

// The README's TypeScript examples run as written, against the tiny checkpoints in test-data/.
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const written: string[] = [];

describe('README examples', () => {
  it('has examples', () => expect(blocks.length).toBeGreaterThanOrEqual(2));
  for (const [i, code] of blocks.entries()) {
    it(`example ${i + 1} runs`, async () => {
      const file = join(root, 'test', `.readme-example-${i}.mts`);
      written.push(file);
      writeFileSync(file, code.replaceAll("'test-data/", `'${testDataDir}/`));
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await import(file);
        expect(log).toHaveBeenCalled();
        if (i === 0) expect(log.mock.calls[0]).toEqual(['LlamaForCausalLM', 18080]);
      } finally {
        log.mockRestore();
      }
    });
  }
  afterAll(() => {
    for (const file of written) rmSync(file, { force: true });
  });
});
