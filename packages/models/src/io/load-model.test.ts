import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, type TensorEntry, writeSafetensors } from '@lorakit/safetensors';
import { describe, expect, it } from 'vitest';
import { testDataDir } from '../../test/helpers.js';
import { CheckpointError, ConfigError, loadModel, loadModelWithReport, saveModel } from '../index.js';

/** A copy of a test-data checkpoint whose tensors pass through `edit` (return null to drop one). */
async function editedCheckpoint(
  name: string,
  edit: (entry: TensorEntry) => TensorEntry | null,
  extra: TensorEntry[] = [],
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'lorakit-models-'));
  copyFileSync(join(testDataDir, name, 'config.json'), join(dir, 'config.json'));
  const file = SafetensorsFile.open(join(testDataDir, name, 'model.safetensors'));
  const entries: TensorEntry[] = [];
  for (const info of file.tensors) {
    const { data } = file.readSync(info.name, { raw: true });
    const edited = edit({ name: info.name, dtype: info.dtype, shape: info.shape, data });
    if (edited) entries.push(edited);
  }
  file.close();
  await writeSafetensors(join(dir, 'model.safetensors'), [...entries, ...extra]);
  return dir;
}

function withConfig(name: string, change: (config: Record<string, unknown>) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'lorakit-models-'));
  const config = JSON.parse(readFileSync(join(testDataDir, name, 'config.json'), 'utf8'));
  change(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  copyFileSync(join(testDataDir, name, 'model.safetensors'), join(dir, 'model.safetensors'));
  return dir;
}

describe('loadModel', () => {
  it('names the unsupported model_type and lists the supported ones', async () => {
    const dir = withConfig('llama_gqa', (c) => {
      c.model_type = 'bart';
    });
    await expect(loadModel(dir)).rejects.toThrow(
      new ConfigError(
        '[config] model_type "bart" is not supported; supported model types: bert, gemma2, gpt2, gptj, llama, mistral, phi3, qwen2, t5',
      ),
    );
    const missing = withConfig('llama_gqa', (c) => {
      delete c.model_type;
    });
    await expect(loadModel(missing)).rejects.toThrow(
      '[config] config.json has no "model_type"; supported model types: bert, gemma2, gpt2, gptj, llama, mistral, phi3, qwen2, t5',
    );
  });

  it('lists the missing weights', async () => {
    const dir = await editedCheckpoint('llama_gqa', (e) =>
      e.name === 'model.norm.weight' || e.name.startsWith('model.layers.1.mlp.') ? null : e,
    );
    const error = await loadModel(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toBe(
      `[loadModel] ${dir} is missing 4 weights of LlamaForCausalLM: model.layers.1.mlp.gate_proj.weight, model.layers.1.mlp.up_proj.weight, model.layers.1.mlp.down_proj.weight, model.norm.weight (pass strict: false to initialize them)`,
    );
    expect((error as CheckpointError).missing).toHaveLength(4);
  });

  it('names the tensor and both shapes on a mismatch', async () => {
    const dir = await editedCheckpoint('gpt2', (e) =>
      e.name === 'transformer.wpe.weight'
        ? { ...e, shape: [32, 32], data: (e.data as Float32Array).subarray(0, 32 * 32) }
        : e,
    );
    await expect(loadModel(dir)).rejects.toThrow(
      `[loadModel] ${dir}: tensor "transformer.wpe.weight" has shape [32, 32] in the checkpoint but GPT2LMHeadModel expects [64, 32]`,
    );
  });

  it('lists unexpected tensors, skips the ones transformers ignores, and loads leniently on request', async () => {
    const extra: TensorEntry[] = [
      { name: 'transformer.h.0.attn.bias', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      { name: 'transformer.h.0.attn.masked_bias', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      { name: 'score.weight', dtype: 'F32', shape: [2, 32], data: new Float32Array(64) },
    ];
    const dir = await editedCheckpoint('gpt2', (e) => (e.name === 'transformer.ln_f.bias' ? null : e), extra);
    await expect(loadModel(dir)).rejects.toThrow(
      `[loadModel] ${dir} is missing 1 weight of GPT2LMHeadModel: transformer.ln_f.bias (pass strict: false to initialize them)`,
    );
    const { model, report } = await loadModelWithReport(dir, { strict: false });
    expect(report).toEqual({
      missing: ['transformer.ln_f.bias'],
      unexpected: ['score.weight'],
      ignored: ['transformer.h.0.attn.bias', 'transformer.h.0.attn.masked_bias'],
      untied: [],
    });
    expect(model.parameterAt('transformer.ln_f.bias').toList()).toEqual(new Array(32).fill(0));

    const unexpectedOnly = await editedCheckpoint('gpt2', (e) => e, [extra[2]!]);
    await expect(loadModel(unexpectedOnly)).rejects.toThrow(
      `[loadModel] ${unexpectedOnly} has 1 tensor that GPT2LMHeadModel does not use: score.weight (pass strict: false to skip them)`,
    );
  });

  it('shares tied weights (one Parameter) whichever name the checkpoint stores', async () => {
    const gpt2 = await loadModel(join(testDataDir, 'gpt2'));
    expect(gpt2.parameterAt('lm_head.weight')).toBe(gpt2.parameterAt('transformer.wte.weight'));
    expect(gpt2.namedParameters().map(([n]) => n)).not.toContain('lm_head.weight');
    // A checkpoint holding only the target name of the tie loads too (transformers ties symmetrically).
    const renamed = await editedCheckpoint('llama_tied_llama3', (e) =>
      e.name === 'model.embed_tokens.weight' ? { ...e, name: 'lm_head.weight' } : e,
    );
    const llama = await loadModel(renamed);
    expect(llama.parameterAt('lm_head.weight')).toBe(llama.parameterAt('model.embed_tokens.weight'));
    const bert = await loadModel(join(testDataDir, 'bert_mlm'));
    expect(bert.parameterAt('cls.predictions.decoder.weight')).toBe(
      bert.parameterAt('bert.embeddings.word_embeddings.weight'),
    );
    expect(bert.parameterAt('cls.predictions.decoder.bias')).toBe(bert.parameterAt('cls.predictions.bias'));
  });

  it('keeps both weights of a tie when the checkpoint stores them with different values', async () => {
    const file = SafetensorsFile.open(join(testDataDir, 'llama_tied_llama3', 'model.safetensors'));
    const embedding = file.readSync('model.embed_tokens.weight').data as Float32Array;
    file.close();
    const head = (scale: number): TensorEntry => ({
      name: 'lm_head.weight',
      dtype: 'F32',
      shape: [64, 32],
      data: embedding.map((v) => v * scale),
    });
    const same = await loadModelWithReport(await editedCheckpoint('llama_tied_llama3', (e) => e, [head(1)]));
    expect(same.report.untied).toEqual([]);
    expect(same.model.parameterAt('lm_head.weight')).toBe(
      same.model.parameterAt('model.embed_tokens.weight'),
    );
    const dir = await editedCheckpoint('llama_tied_llama3', (e) => e, [head(2)]);
    const { model, report } = await loadModelWithReport(dir);
    expect(report.untied).toEqual(['lm_head.weight']);
    expect(model.parameterAt('lm_head.weight')).not.toBe(model.parameterAt('model.embed_tokens.weight'));
    expect(model.tiedWeights()).toEqual([]);
    const saved = mkdtempSync(join(tmpdir(), 'lorakit-models-'));
    await saveModel(model, saved);
    const written = SafetensorsFile.open(join(saved, 'model.safetensors'));
    expect(written.tensors.map((t) => t.name)).toContain('lm_head.weight');
    written.close();
  });

  it('converts bf16 checkpoints to float32 and loads a heads-free checkpoint into a model with a head', async () => {
    const dir = await editedCheckpoint('llama_gqa', (e) => ({
      ...e,
      name: e.name.replace(/^model\./, ''),
      dtype: 'BF16',
      data: Float32Array.from(new Float32Array((e.data as Float32Array).buffer.slice(0))),
    }));
    const model = await loadModel(dir, { strict: false });
    const weight = model.parameterAt('model.layers.0.self_attn.q_proj.weight');
    expect(weight.dtype).toBe('float32');
    const original = SafetensorsFile.open(join(testDataDir, 'llama_gqa', 'model.safetensors'));
    const exact = original.readSync('model.layers.0.self_attn.q_proj.weight').data as Float32Array;
    original.close();
    const loaded = weight.toArray() as Float32Array;
    // bf16 keeps 8 bits of mantissa: relative error ≤ 2⁻⁸.
    for (let i = 0; i < exact.length; i++) {
      expect(Math.abs(loaded[i]! - exact[i]!)).toBeLessThanOrEqual(Math.abs(exact[i]!) * 2 ** -8 + 1e-30);
    }
  });

  it('exposes transformers module names, the embeddings paths and the model type', async () => {
    const llama = await loadModel(join(testDataDir, 'llama_gqa'));
    const names = llama.namedModules().map(([n]) => n);
    for (const name of [
      'model.embed_tokens',
      'model.layers.0.self_attn.q_proj',
      'model.layers.1.mlp.down_proj',
      'model.layers.0.input_layernorm',
      'model.layers.0.post_attention_layernorm',
      'model.norm',
      'lm_head',
    ]) {
      expect(names).toContain(name);
    }
    expect([
      llama.modelType,
      llama.architecture,
      llama.getInputEmbeddings(),
      llama.getOutputEmbeddings(),
    ]).toEqual(['llama', 'LlamaForCausalLM', 'model.embed_tokens', 'lm_head']);
    const gpt2 = await loadModel(join(testDataDir, 'gpt2'));
    for (const name of [
      'transformer.h.0.attn.c_attn',
      'transformer.h.0.attn.c_proj',
      'transformer.h.0.mlp.c_fc',
      'transformer.h.0.attn.attn_dropout',
      'transformer.h.0.attn.resid_dropout',
      'transformer.h.0.mlp.dropout',
      'transformer.drop',
      'transformer.ln_f',
    ]) {
      expect(gpt2.namedModules().map(([n]) => n)).toContain(name);
    }
    const bert = await loadModel(join(testDataDir, 'bert_seqcls'));
    for (const name of [
      'bert.embeddings.LayerNorm',
      'bert.encoder.layer.0.attention.self.query',
      'bert.encoder.layer.0.attention.output.dense',
      'bert.encoder.layer.0.intermediate.dense',
      'bert.encoder.layer.0.output.LayerNorm',
      'bert.pooler.dense',
      'classifier',
    ]) {
      expect(bert.namedModules().map(([n]) => n)).toContain(name);
    }
    expect(bert.getOutputEmbeddings()).toBeNull();
  });
});
