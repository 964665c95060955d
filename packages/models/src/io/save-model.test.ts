import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { readTensors, testDataDir } from '../../test/helpers.js';
import { loadModel, saveModel } from '../index.js';

const temporary = () => mkdtempSync(join(tmpdir(), 'lorakit-save-'));

describe('saveModel', () => {
  for (const name of ['gpt2', 'llama_gqa', 'bert_mlm']) {
    it(`${name}: model.safetensors is byte-identical to what transformers saved`, async () => {
      const model = await loadModel(join(testDataDir, name));
      const dir = temporary();
      await saveModel(model, dir);
      expect(readFileSync(join(dir, 'model.safetensors'))).toEqual(
        readFileSync(join(testDataDir, name, 'model.safetensors')),
      );
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      const original = JSON.parse(readFileSync(join(testDataDir, name, 'config.json'), 'utf8'));
      expect(config).toEqual({ ...original, dtype: 'float32' });
    });
  }

  it('shards above maxShardSize like transformers and loads back with the same logits', async () => {
    const model = await loadModel(join(testDataDir, 'llama_gqa'));
    const dir = temporary();
    await saveModel(model, dir, { maxShardSize: '30KB' });
    const shards = readdirSync(dir)
      .filter((f) => f.endsWith('.safetensors'))
      .sort();
    expect(shards.length).toBeGreaterThan(1);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index)).toEqual(['metadata', 'weight_map']);
    expect(index.metadata.total_parameters).toBe(model.numParameters());
    expect(index.metadata.total_size).toBe(model.numParameters() * 4);
    expect(Object.keys(index.weight_map)).toEqual([...Object.keys(index.weight_map)].sort());
    expect(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8')).toMatch(
      /^{\n {2}"metadata": {\n/,
    );

    const reloaded = await loadModel(dir);
    const inputs = readTensors(join(testDataDir, 'llama_gqa', 'expected.safetensors'));
    const run = (m: typeof model) =>
      noGrad(() =>
        m.eval().forward({ inputIds: inputs.get('input_ids')!, attentionMask: inputs.get('attention_mask') }),
      );
    expect(run(reloaded).logits.sub(run(model).logits).abs().max().item()).toBe(0);

    // Saving again unsharded replaces the shards and the index.
    await saveModel(reloaded, dir);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors']);
    expect(existsSync(join(dir, 'model.safetensors.index.json'))).toBe(false);
  });

  it('stores bf16 on request and loads it back as float32', async () => {
    const model = await loadModel(join(testDataDir, 'gpt2'));
    const dir = temporary();
    await saveModel(model, dir, { dtype: 'bfloat16' });
    const header = readFileSync(join(dir, 'model.safetensors'));
    expect(header.toString('utf8', 8, 200)).toContain('"dtype":"BF16"');
    const reloaded = await loadModel(dir);
    expect(reloaded.parameterAt('transformer.wte.weight').dtype).toBe('float32');
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).dtype).toBe('bfloat16');
  });

  it('rejects a malformed shard size', async () => {
    const model = await loadModel(join(testDataDir, 'gpt2'));
    await expect(saveModel(model, temporary(), { maxShardSize: 'lots' })).rejects.toThrow(
      '[saveModel] maxShardSize must be a positive byte count or a size like "5GB", received "lots"',
    );
  });
});
