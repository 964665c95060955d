import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '@lorakit/models';
import { readTensorFile } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { lorakit, temporaryDirectory } from './run-cli.js';

const fixtures = peftFixturesDir();

describe('lorakit merge', () => {
  let dir: string;
  beforeAll(() => {
    dir = temporaryDirectory();
  });

  it.each(['llama_qv', 'llama_dora', 'gpt2_conv1d'])(
    '%s: the streaming merge writes the bytes mergeAndUnload + saveModel write, and reproduces PEFT merged logits',
    async (name) => {
      const base = join(fixtures, name, 'base');
      const adapter = join(fixtures, name, 'adapter');
      const streaming = lorakit([
        'merge',
        '--model',
        base,
        '--adapter',
        adapter,
        '--out',
        join(dir, `${name}-s`),
        '--safe',
        '--json',
      ]);
      expect(streaming.code, streaming.stderr).toBe(0);
      expect(streaming.json()).toMatchObject({ mode: 'streaming', safe: true });
      const inMemory = lorakit([
        'merge',
        '--model',
        base,
        '--adapter',
        adapter,
        '--out',
        join(dir, `${name}-m`),
        '--in-memory',
        '--json',
      ]);
      expect(inMemory.json()).toMatchObject({ mode: 'in-memory' });
      for (const file of ['model.safetensors', 'config.json']) {
        expect(
          readFileSync(join(dir, `${name}-s`, file)).equals(readFileSync(join(dir, `${name}-m`, file))),
          file,
        ).toBe(true);
      }
      const io = readTensorFile(join(fixtures, name, 'io.safetensors'));
      const model = await loadModel(join(dir, `${name}-s`));
      model.eval();
      const { logits } = model.call({
        inputIds: io.get('input_ids')!,
        attentionMask: io.get('attention_mask'),
      });
      const error = logits.sub(io.get('logits_merged')!).abs().max().item();
      expect(error).toBeLessThan(1e-4);
    },
  );

  it('shards above --max-shard-size with an index, and the shards load', async () => {
    const out = join(dir, 'sharded');
    const base = join(fixtures, 'llama_qv', 'base');
    const run = lorakit([
      'merge',
      '--model',
      base,
      '--adapter',
      join(fixtures, 'llama_qv', 'adapter'),
      '--out',
      out,
      '--max-shard-size',
      '30KB',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const files = readdirSync(out).filter((f) => f.startsWith('model'));
    expect(files).toContain('model.safetensors.index.json');
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    const model = await loadModel(out);
    expect(model.numParameters()).toBeGreaterThan(0);
  });

  it('an adapter for another model: exit 2 naming the modules', () => {
    const run = lorakit([
      'merge',
      '--model',
      join(fixtures, 'gpt2_conv1d', 'base'),
      '--adapter',
      join(fixtures, 'llama_qv', 'adapter'),
      '--out',
      join(dir, 'wrong'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^lorakit: error: adapter .* does not fit the model in /);
    expect(run.stderr).toContain("Target modules {'q_proj', 'v_proj'} not found in the base model");
    expect(run.stderr).toContain('transformer.h.0.attn.c_attn');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad --max-shard-size', () => {
    const run = lorakit([
      'merge',
      '--model',
      join(fixtures, 'llama_qv', 'base'),
      '--adapter',
      join(fixtures, 'llama_qv', 'adapter'),
      '--out',
      join(dir, 'x'),
      '--max-shard-size',
      'big',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'lorakit: error: [saveModel] --max-shard-size must be a positive byte count or a size like "5GB", received "big"',
    );
  });
});
