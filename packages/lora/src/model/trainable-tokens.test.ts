import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@lorakit/models';
import { AdamW, type AnyModule, type Parameter } from '@lorakit/nn';
import { noGrad, type Tensor, tensor, writeTensorFile } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, readAll } from '../../test/helpers.js';
import { getPeftModel, LoraConfig, loadAdapter, saveAdapter } from '../index.js';
import type { PeftModel } from './peft-model.js';

const llama = join(peftFixturesDir(), 'llama_qv', 'base');
let tied: string;
const ids = tensor([[1, 3, 5, 7, 9, 90]], { dtype: 'int64' });

function logits(model: AnyModule): Tensor {
  return (model.call({ inputIds: ids }) as { logits: Tensor }).logits;
}

function perturbDeltas(peft: PeftModel): void {
  noGrad(() => {
    for (const [name, p] of peft.namedParameters())
      if (name.endsWith('trainable_tokens_delta')) p.assign(p.add(0.25));
  });
}

beforeAll(async () => {
  tied = join(mkdtempSync(join(tmpdir(), 'lorakit-tokens-')), 'tied');
  mkdirSync(tied);
  const config = JSON.parse(readFileSync(join(llama, 'config.json'), 'utf8'));
  writeFileSync(join(tied, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
  copyFileSync(join(llama, 'generation_config.json'), join(tied, 'generation_config.json'));
  const weights = readAll(join(llama, 'model.safetensors'));
  weights.delete('lm_head.weight');
  await writeTensorFile(join(tied, 'model.safetensors'), weights);
});

describe('trainable tokens (trainable_token_indices)', () => {
  it('a fresh adapter changes nothing, and only the deltas are saved, under PEFT keys', async () => {
    const base = await loadModel(tied);
    const before = logits(base);
    const peft = getPeftModel(base, { targetModules: ['q_proj'], trainableTokenIndices: [3, 5] });
    expectClose(logits(peft), before, 1e-6, 0, 'fresh adapter');
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-tokens-save-'));
    await saveAdapter(peft, dir);
    const saved = readAll(join(dir, 'adapter_model.safetensors'));
    // Tied: lm_head shares the rows of embed_tokens, which are saved once.
    expect([...saved.keys()].filter((k) => k.includes('token'))).toEqual([
      'base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta',
    ]);
    expect(
      saved.get('base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta')!.shape,
    ).toEqual([2, 32]);
    expect(
      JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).trainable_token_indices,
    ).toEqual([3, 5]);
  });

  it('trains only the chosen rows; tied embeddings see them in the output layer too', async () => {
    const peft = getPeftModel(await loadModel(tied), {
      targetModules: ['q_proj'],
      trainableTokenIndices: [3, 5],
    });
    const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
    expect(trainable.map(([n]) => n).filter((n) => !n.includes('lora_'))).toEqual([
      'base_model.model.model.embed_tokens.modules_to_save.default.token_adapter.trainable_tokens_delta',
    ]);
    const embedding = peft.model.getSubmodule('model.embed_tokens.original_module').param('weight')!;
    const original = embedding.toArray() as Float32Array;
    const optimizer = new AdamW(
      trainable.map(([, p]) => p as Parameter),
      { lr: 0.1 },
    );
    const loss = logits(peft).square().mean();
    loss.backward();
    optimizer.step();
    const merged = peft.mergeAndUnload();
    const weight = merged.getSubmodule('model.embed_tokens').param('weight')!.toArray() as Float32Array;
    const changedRows = new Set<number>();
    for (let i = 0; i < weight.length; i++)
      if (weight[i] !== original[i]) changedRows.add(Math.floor(i / 32));
    expect([...changedRows].sort((a, b) => a - b)).toEqual([3, 5]);
    expect(merged.getSubmodule('lm_head').param('weight')).toBe(
      merged.getSubmodule('model.embed_tokens').param('weight'),
    );
  });

  it('merge_and_unload gives the adapter outputs; unload gives the base back', async () => {
    const base = logits(await loadModel(llama));
    const make = async () => {
      const peft = getPeftModel(await loadModel(llama), {
        targetModules: ['v_proj'],
        trainableTokenIndices: { embed_tokens: [3, 5], lm_head: [1, 90] },
      });
      perturbDeltas(peft);
      return peft;
    };
    const peft = await make();
    const adapted = logits(peft);
    expect(Math.max(...(adapted.sub(base).abs().toArray() as Float32Array))).toBeGreaterThan(0.01);
    expectClose(logits(peft.mergeAndUnload()), adapted, 1e-5, 1e-5, 'merged');
    const unloaded = (await make()).unload();
    expectClose(logits(unloaded), base, 1e-6, 0, 'unloaded');
  });

  it('round-trips through saveAdapter / loadAdapter with the same logits', async () => {
    const peft = getPeftModel(await loadModel(llama), {
      targetModules: ['q_proj'],
      trainableTokenIndices: { lm_head: [0, 7] },
    });
    perturbDeltas(peft);
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-tokens-rt-'));
    await saveAdapter(peft, dir);
    const again = loadAdapter(await loadModel(llama), dir);
    expectClose(logits(again), logits(peft), 1e-6, 0, 'reloaded');
  });

  it('errors name the layer and the problem', async () => {
    const model = await loadModel(llama);
    expect(() => getPeftModel(model, { targetModules: ['q_proj'], trainableTokenIndices: [3, 96] })).toThrow(
      '[lora] trainable_token_indices for model.embed_tokens: index 96 is outside the vocabulary [0, 96)',
    );
    expect(() =>
      getPeftModel(model, { targetModules: ['q_proj'], trainableTokenIndices: { wte: [1] } }),
    ).toThrow(
      '[lora] trainable_token_indices names wte, which matches no module; embedding layers in this model:',
    );
    expect(() =>
      getPeftModel(model, { targetModules: ['embed_tokens'], trainableTokenIndices: [1] }),
    ).toThrow(
      '[lora] model.embed_tokens is a LoRA target and cannot also have trainable tokens (trainable_token_indices)',
    );
    expect(() =>
      getPeftModel(model, { targetModules: ['q_proj'], trainableTokenIndices: { q_proj: [1] } }),
    ).toThrow(
      '[lora] model.layers.0.self_attn.q_proj is a LoRA target and cannot also have trainable tokens (trainable_token_indices)',
    );
    const peft = getPeftModel(await loadModel(llama), {
      targetModules: ['q_proj'],
      trainableTokenIndices: [1],
    });
    peft.addAdapter('other', { targetModules: ['q_proj'] });
    expect(() => peft.addWeightedAdapter(['default', 'other'], [1, 1], 'both', 'linear')).toThrow(
      '[addWeightedAdapter] adapter default has trainable tokens (trainable_token_indices), which a weighted combination cannot carry over; combine adapters without them',
    );
    expect(new LoraConfig({ trainableTokenIndices: { embed_tokens: [1] } }).trainableTokenIndices).toEqual({
      embed_tokens: [1],
    });
  });
});
