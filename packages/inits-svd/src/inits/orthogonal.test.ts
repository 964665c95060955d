import { getPeftModel, LoraConfig, type LoraEmbedding, type LoraLinear } from '@lorakit/lora';
import { Conv2d } from '@lorakit/nn';
import { Generator, manualSeed, randn, svd, type Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { expectClose, maxError } from '../../test/helpers.js';
import { Holder, linearWith, Mixed } from '../../test/modules.js';
import '../index.js';
import { withInitGenerator } from '../init-generator.js';
import { orthogonalInit } from './orthogonal.js';

/** Numerical rank: singular values above 1e-5 of the largest. */
const rank = (t: Tensor) => {
  const s = svd(t.double()).s.toArray() as Float64Array;
  return s.filter((v) => v > 1e-5 * s[0]!).length;
};

describe('orthogonalInit', () => {
  it('gives non-zero factors with B·A = 0, each of rank r/2', () => {
    const { a, b } = orthogonalInit(64, 48, 8, { generator: new Generator(0) });
    expect(a.shape).toEqual([8, 64]);
    expect(b.shape).toEqual([48, 8]);
    expect(b.matmul(a).abs().max().item()).toBeLessThan(1e-7);
    expect(rank(a)).toBe(4);
    expect(rank(b)).toBe(4);
  });

  it('has entries of standard deviation ≈ 1/√200', () => {
    const { a, b } = orthogonalInit(512, 512, 16, { generator: new Generator(1) });
    expect(a.std().item()).toBeCloseTo(1 / Math.sqrt(200), 2);
    expect(b.std().item()).toBeCloseTo(1 / Math.sqrt(200), 2);
  });

  it('is determined by the generator', () => {
    const one = orthogonalInit(10, 6, 4, { generator: new Generator(5) });
    const two = orthogonalInit(10, 6, 4, { generator: new Generator(5) });
    expect(maxError(one.a, two.a)).toBe(0);
    expect(maxError(one.b, two.b)).toBe(0);
  });

  it('requires an even rank (PEFT’s message)', () => {
    expect(() => orthogonalInit(10, 6, 3)).toThrow(
      '[orthogonal] Orthogonal initialization requires the LoRA rank to be even, got 3 instead.',
    );
  });
});

describe("init_lora_weights: 'orthogonal'", () => {
  const config = (r = 4, targets = ['proj']) =>
    new LoraConfig({ r, loraAlpha: 8, targetModules: targets, initLoraWeights: 'orthogonal' });

  it('leaves the base weight and the output unchanged (linear and Conv1D)', () => {
    manualSeed(0);
    const weight = randn([6, 10]);
    const x = randn([2, 10]);
    for (const kind of ['linear', 'conv1d'] as const) {
      const stored = kind === 'linear' ? weight : weight.T.contiguous();
      const peft = withInitGenerator(new Generator(3), () =>
        getPeftModel(new Holder(linearWith(stored, kind)), config()),
      );
      const layer = peft.model.getSubmodule<LoraLinear>('proj');
      expectClose(layer.baseWeight(), stored, 0, `${kind} base`);
      expect(layer.deltaWeight('default').abs().max().item()).toBeLessThan(1e-7);
      expectClose(peft.model.call(x) as Tensor, x.matmul(weight.T), 1e-6, `${kind} output`);
      const { a, b } = layer.factorParameters('default');
      const expected = orthogonalInit(10, 6, 4, { generator: new Generator(3) });
      expectClose(a, expected.a, 0);
      expectClose(b, expected.b, 0);
    }
  });

  it('fails for odd ranks, rejects conv layers and leaves embeddings to the default init', () => {
    expect(() => getPeftModel(new Holder(linearWith(randn([4, 4]))), config(3))).toThrow(
      '[orthogonal] Orthogonal initialization requires the LoRA rank to be even, got 3 instead.',
    );
    expect(() => getPeftModel(new Holder(new Conv2d(2, 2, 1)), config())).toThrow(
      "[lora] Unknown initialization init_lora_weights='orthogonal' for conv layer proj",
    );
    const peft = getPeftModel(new Mixed(), config(4, ['embed']));
    expect(
      peft.model.getSubmodule<LoraEmbedding>('embed').factorParameters('default').a.abs().max().item(),
    ).toBe(0);
  });
});
