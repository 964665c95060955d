import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAdapterConfig } from '@lorakit/lora';
import { createModel, saveModel } from '@lorakit/models';
import { Generator } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// The README's TypeScript examples run as written, with './…' paths pointing into a temporary folder
// that holds a tiny random Llama and the tokenizer of @lorakit/models' test data.
const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const work = mkdtempSync(join(tmpdir(), 'eva-readme-'));
const written: string[] = [];

beforeAll(async () => {
  const model = createModel(
    {
      model_type: 'llama',
      vocab_size: 300,
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
    },
    { generator: new Generator(0) },
  );
  await saveModel(model, join(work, 'my-llama'));
  const tokenizer = join(root, '..', 'models', 'test-data', 'tokenizer');
  for (const file of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(tokenizer, file), join(work, 'my-llama', file));
  const lines = ['a small example', 'of fine-tuning data', 'read line by line', 'and tokenized in batches'];
  writeFileSync(join(work, 'train.jsonl'), `${lines.map((text) => JSON.stringify({ text })).join('\n')}\n`);
});

describe('README examples', () => {
  it('has examples', () => expect(blocks.length).toBe(2));
  for (const [i, code] of blocks.entries()) {
    it(`example ${i + 1} runs`, async () => {
      const file = join(root, 'src', `.readme-example-${i}.mts`);
      written.push(file);
      writeFileSync(
        file,
        code.replaceAll("'./", `'${work}/`).replaceAll("from '@lorakit/eva'", "from './index.js'"),
      );
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        await import(file);
        expect(log).toHaveBeenCalled();
        if (i === 0) {
          const ranks = log.mock.calls[0]![0] as Map<string, number>;
          expect([...ranks.values()].reduce((a, b) => a + b)).toBe(4 * 6);
          expect(readAdapterConfig(join(work, 'my-eva-adapter')).initLoraWeights).toBe('eva');
        } else {
          expect(log.mock.calls.at(-1)).toEqual(['14/14 converged']);
        }
      } finally {
        log.mockRestore();
        stderr.mockRestore();
      }
    });
  }
  afterAll(() => {
    for (const file of written) rmSync(file, { force: true });
    rmSync(work, { recursive: true, force: true });
  });
});
