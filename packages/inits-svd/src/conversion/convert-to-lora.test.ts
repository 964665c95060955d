import { LoraConfig } from '@lorakit/lora';
import { manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectClose } from '../../test/helpers.js';
import { convertedConfig, convertToLora } from './convert-to-lora.js';

const key = (module: string, suffix: string) => `base_model.model.${module}.${suffix}`;

/** An adapter with one linear layer (A [r, 6], B [5, r]) and one embedding (A [r, 10], B [4, r]). */
function adapter(r: number, extra: Record<string, Tensor> = {}): Map<string, Tensor> {
  return new Map([
    [key('q_proj', 'lora_A.weight'), randn([r, 6])],
    [key('q_proj', 'lora_B.weight'), randn([5, r])],
    [key('embed', 'lora_embedding_A'), randn([r, 10])],
    [key('embed', 'lora_embedding_B'), randn([4, r])],
    ...Object.entries(extra),
  ]);
}

describe('convertToLora', () => {
  beforeEach(() => manualSeed(0));
  const config = new LoraConfig({
    r: 3,
    loraAlpha: 6,
    targetModules: ['q_proj', 'embed'],
    initLoraWeights: 'pissa',
  });

  it('builds A′ = [A; A₀], B′ = [B, −B₀] so that B′·A′ = B·A − B₀·A₀ (linear and embedding factors)', () => {
    const initial = adapter(3);
    const head = randn([2, 4]);
    const trained = adapter(3, { [key('head.modules_to_save.default', 'weight')]: head });
    const converted = convertToLora({ config, tensors: initial }, { config, tensors: trained });
    expect(converted.warnings).toEqual([]);
    for (const [a, b] of [
      ['q_proj.lora_A.weight', 'q_proj.lora_B.weight'],
      ['embed.lora_embedding_A', 'embed.lora_embedding_B'],
    ] as const) {
      const [aKey, bKey] = [`base_model.model.${a}`, `base_model.model.${b}`];
      const product = converted.tensors.get(bKey)!.matmul(converted.tensors.get(aKey)!);
      const expected = trained
        .get(bKey)!
        .matmul(trained.get(aKey)!)
        .sub(initial.get(bKey)!.matmul(initial.get(aKey)!));
      expect(converted.tensors.get(aKey)!.shape[0]).toBe(6);
      expectClose(product, expected, 1e-5, a);
    }
    // Tensors that are not relative to the residual are carried over (PEFT 0.21 drops them).
    expect(converted.tensors.get(key('head.modules_to_save.default', 'weight'))).toBe(head);
  });

  it('doubles r and α (α·√2 with rsLoRA) and the patterns, keeping every scaling', () => {
    const plain = convertedConfig(
      new LoraConfig({
        r: 4,
        loraAlpha: 8,
        rankPattern: { v_proj: 2 },
        alphaPattern: { v_proj: 3 },
        initLoraWeights: 'olora',
      }),
    );
    expect([plain.r, plain.loraAlpha, plain.initLoraWeights]).toEqual([8, 16, true]);
    expect(plain.rankPattern).toEqual({ v_proj: 4 });
    expect(plain.alphaPattern).toEqual({ v_proj: 6 });
    const rslora = convertedConfig(
      new LoraConfig({ r: 4, loraAlpha: 8, useRslora: true, initLoraWeights: 'pissa' }),
    );
    expect(rslora.loraAlpha).toBe(8 * Math.SQRT2);
    expect(rslora.scalingFor(8, rslora.loraAlpha)).toBeCloseTo(8 / 2, 12);
    expect(rslora.toPeftDict().lora_alpha).toMatchObject({ value: 8 * Math.SQRT2 });
  });

  it('refuses rsLoRA with rank or alpha patterns (PEFT’s message)', () => {
    const withPattern = new LoraConfig({
      r: 4,
      useRslora: true,
      rankPattern: { q: 2 },
      initLoraWeights: 'pissa',
    });
    expect(() => convertedConfig(withPattern)).toThrow(
      '[convertToLora] Passing `path_initial_model_for_weight_conversion` to `save_pretrained` is not supported when using `rank_pattern` or `alpha_pattern` at the same time as `use_rslora=True`.',
    );
  });

  it('warns for inits that do not mutate the base, as PEFT does', () => {
    const gaussian = new LoraConfig({ r: 3, initLoraWeights: 'gaussian' });
    const tensors = adapter(3);
    expect(convertToLora({ config: gaussian, tensors }, { config: gaussian, tensors }).warnings).toEqual([
      '`path_initial_model_for_weight_conversion` only works for converting a PiSSA/CorDA/OLoRA/LoRA-GA adapter to a LoRA adapter',
    ]);
  });

  it('names missing and mismatched initial tensors', () => {
    const trained = adapter(3);
    const initial = adapter(2);
    initial.delete(key('embed', 'lora_embedding_B'));
    expect(() => convertToLora({ config, tensors: initial }, { config, tensors: trained })).toThrow(
      '[convertToLora] the initial adapter does not match the trained one (missing in the initial adapter: base_model.model.embed.lora_embedding_B; shape mismatches: base_model.model.q_proj.lora_A.weight: initial [2, 6] vs trained [3, 6], base_model.model.q_proj.lora_B.weight: initial [5, 2] vs trained [5, 3], base_model.model.embed.lora_embedding_A: initial [2, 10] vs trained [3, 10]); pass the adapter saved right after initialization, before training',
    );
  });
});
