import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { extraFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { compare, readTensors } from '../../test/helpers.js';
import { relativePositionBucket } from '../attention/relative-position.js';
import { createModel, generate, loadModel, parseConfig, saveModel } from '../index.js';

// The PEFT cases of the newer families (fixtures/peft-extra/generate_families.py): the base model must
// reproduce transformers' logits on every input the case stores, and its greedy generate().
const cases = existsSync(extraFixturesDir)
  ? readdirSync(extraFixturesDir).filter((name) => /^(t5|gptj|gemma2|phi3)_/.test(name))
  : [];
const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe('model families against transformers (peft-extra cases)', () => {
  it('finds a case for each of T5, GPT-J, Gemma 2 and Phi-3', () => {
    for (const family of ['t5_', 'gptj_', 'gemma2_', 'phi3_']) {
      expect(cases.some((name) => name.startsWith(family))).toBe(true);
    }
  });

  for (const name of cases) {
    const dir = join(extraFixturesDir, name);
    const io = readTensors(join(dir, 'io.safetensors'));
    const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { inputs: string[] };
    const inputs = Object.fromEntries(spec.inputs.map((key) => [camel(key), io.get(key)!])) as {
      inputIds: Tensor;
    };

    it(`${name}: logits_base within 1e-4`, async () => {
      const model = (await loadModel(join(dir, 'base'))).eval();
      const logits = noGrad(() => model.forward(inputs).logits);
      const { maxAbs, ok } = compare(logits, io.get('logits_base')!, 1e-4, 1e-4);
      expect(ok, `max abs error ${maxAbs}`).toBe(true);
    });

    it(`${name}: greedy generation equals transformers, with and without the cache`, async () => {
      const model = await loadModel(join(dir, 'base'));
      const prompt = io.get('greedy.prompt')!;
      const want = io.get('greedy.ids')!.toList();
      const maxNewTokens = 5;
      expect(generate(model, prompt, { maxNewTokens }).toList()).toEqual(want);
      expect(generate(model, prompt, { maxNewTokens, useCache: false }).toList()).toEqual(want);
    });
  }
});

describe('saving the new families', () => {
  it('T5: saveModel stores shared once (not the tied embeddings or lm_head) and reloads to the same logits', async () => {
    const dir = join(extraFixturesDir, 't5_v1_1_default');
    const model = (await loadModel(join(dir, 'base'))).eval();
    const out = mkdtempSync(join(tmpdir(), 't5-save-'));
    await saveModel(model, out);
    const original = SafetensorsFile.open(join(dir, 'base', 'model.safetensors'));
    const saved = SafetensorsFile.open(join(out, 'model.safetensors'));
    try {
      expect(saved.tensors.map((t) => t.name).sort()).toEqual(original.tensors.map((t) => t.name).sort());
    } finally {
      original.close();
      saved.close();
    }
    const inputIds = tensor([[5, 6, 7]], { dtype: 'int64' });
    const decoderInputIds = tensor([[0, 9]], { dtype: 'int64' });
    const reloaded = (await loadModel(out)).eval();
    const a = noGrad(() => model.forward({ inputIds, decoderInputIds }).logits);
    const b = noGrad(() => reloaded.forward({ inputIds, decoderInputIds }).logits);
    expect(a.sub(b).abs().max().item()).toBe(0);
  });
});

describe('T5 relative position buckets', () => {
  it("equal transformers' _relative_position_bucket (32 buckets, max distance 128)", () => {
    const relative = Array.from({ length: 41 }, (_, i) => i - 20);
    expect(relative.map((r) => relativePositionBucket(r, true, 32, 128))).toEqual([
      10, 10, 10, 10, 10, 9, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0, 17, 18, 19, 20, 21, 22, 23, 24, 24,
      24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 26,
    ]);
    expect(relative.map((r) => relativePositionBucket(r, false, 32, 128))).toEqual([
      17, 17, 16, 16, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    // Bucket boundaries (16, 32, 64) and distances past max_distance.
    const far = [-300, -128, -127, -64, -63, -32, -31, -16, -15, 15, 16, 31, 32, 63, 64, 127, 128, 300];
    expect(far.map((r) => relativePositionBucket(r, true, 32, 128))).toEqual([
      15, 15, 15, 14, 13, 12, 11, 10, 9, 25, 26, 27, 28, 29, 30, 31, 31, 31,
    ]);
  });
});

describe('family configs and inputs: errors', () => {
  const t5 = { model_type: 't5', vocab_size: 16, d_model: 8, d_kv: 4, d_ff: 8, num_layers: 1, num_heads: 2 };

  it('T5: an invalid feed_forward_proj', () => {
    expect(() => parseConfig({ ...t5, feed_forward_proj: 'gelu-gated' })).toThrow(
      '[config] t5: feed_forward_proj "gelu-gated" must be "ACT" or "gated-ACT" (e.g. "relu", "gated-gelu")',
    );
  });

  it('T5: a forward without decoder inputs or labels', () => {
    const model = createModel(t5);
    expect(() => model.forward({ inputIds: tensor([[1, 2]], { dtype: 'int64' }) })).toThrow(
      '[T5ForConditionalGeneration] forward needs decoderInputIds or labels (the decoder input is labels shifted right)',
    );
  });

  it('T5: labels alone train (decoder input = labels shifted right) and match explicit decoder ids', () => {
    const model = createModel(t5).eval();
    const inputIds = tensor([[3, 4, 5]], { dtype: 'int64' });
    const labels = tensor([[6, 7, -100]], { dtype: 'int64' });
    const implicit = noGrad(() => model.forward({ inputIds, labels }));
    const explicit = noGrad(() =>
      model.forward({ inputIds, labels, decoderInputIds: tensor([[0, 6, 7]], { dtype: 'int64' }) }),
    );
    expect(implicit.loss!.item()).toBeCloseTo(explicit.loss!.item(), 6);
    expect(Number.isFinite(implicit.loss!.item())).toBe(true);
  });

  it('GPT-J: rotary_dim larger than a head', () => {
    expect(() => parseConfig({ model_type: 'gptj', n_embd: 16, n_head: 4, rotary_dim: 6 })).toThrow(
      '[config] gptj: rotary_dim (6) must be even and at most the head size n_embd / n_head (4)',
    );
  });

  it('Phi-3: LongRoPE factors of the wrong length', () => {
    const raw = {
      model_type: 'phi3',
      hidden_size: 16,
      num_attention_heads: 2,
      rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 1, 1] },
    };
    expect(() => parseConfig(raw)).toThrow(
      '[config] phi3: rope_scaling.short_factor must have 4 entries (rotated dims / 2), received 2',
    );
  });

  it('Phi-3: the older rope type "su" is LongRoPE, with the attention factor from the context ratio', () => {
    const config = parseConfig({
      model_type: 'phi3',
      hidden_size: 16,
      num_attention_heads: 2,
      max_position_embeddings: 64,
      original_max_position_embeddings: 16,
      rope_scaling: { type: 'su', short_factor: [1, 1, 1, 1], long_factor: [2, 2, 2, 2] },
    }) as import('../index.js').Phi3Config;
    expect(config.rope).toMatchObject({ type: 'longrope', originalMaxPositionEmbeddings: 16 });
    expect((config.rope as { attentionFactor: number }).attentionFactor).toBeCloseTo(
      Math.sqrt(1 + Math.log(4) / Math.log(16)),
      12,
    );
  });

  it('Llama: LongRoPE is refused (only Phi-3 implements it)', () => {
    const raw = {
      model_type: 'llama',
      rope_scaling: { rope_type: 'longrope', short_factor: [1], long_factor: [1] },
    };
    expect(() => parseConfig(raw)).toThrow(
      '[config] llama: rope_scaling.rope_type "longrope" is not supported; supported: default, linear, llama3',
    );
  });
});
