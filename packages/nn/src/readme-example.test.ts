import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'lorakit-nn-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README', () => {
  it('the training example runs and the loss goes down', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const code = /```ts\n([\s\S]*?)```/
      .exec(readme)![1]!
      .replace("from '@lorakit/nn'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`)
      .replace(
        "from '@lorakit/tensor'",
        `from ${JSON.stringify(join(root, 'node_modules', '@lorakit', 'tensor', 'src', 'index.ts'))}`,
      );
    const file = join(dir, 'example.ts');
    writeFileSync(file, code);
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args) => void lines.push(args.join(' ')));
    try {
      await import(file);
    } finally {
      log.mockRestore();
    }
    expect(lines).toHaveLength(21);
    expect(lines[0]).toMatch(/^step 1\/20 {2}loss \d\.\d{4} {2}lr 0\.00e\+0 {2}\d+ samples\/s$/);
    expect(lines[20]).toMatch(/^maxSteps 20 \d\.\d+$/);
    const losses = lines.slice(0, 20).map((l) => Number(/loss (\S+)/.exec(l)![1]));
    expect(losses.slice(-4).reduce((a, b) => a + b)).toBeLessThan(losses.slice(0, 4).reduce((a, b) => a + b));
  });
});
