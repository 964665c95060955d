import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getPeftModel, LoraConfig, type LoraLinear, loadAdapter, saveAdapter } from '@lorakit/lora';
import { eye, Generator, manualSeed, qr, randn, type Tensor, tensor } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import { expectClose, maxError } from '../../test/helpers.js';
import { Holder, linearWith } from '../../test/modules.js';
import '../index.js';
import { withInitGenerator } from '../init-generator.js';
import { pissaInit } from './pissa.js';
import { parsePissaNiter, pissaNiterInit } from './pissa-niter.js';

/** U·diag(σ)·Vᵀ with random orthonormal U, V: a matrix with a chosen spectrum. */
function withSpectrum(rows: number, columns: number, sigma: readonly number[]): Tensor {
  const k = sigma.length;
  const u = qr(randn([rows, k])).q;
  const v = qr(randn([columns, k])).q;
  return u.mul(tensor([...sigma]).unsqueeze(0)).matmul(v.T);
}

const gapSpectrum = (k: number) => [
  10,
  8,
  6,
  4,
  ...Array.from({ length: k - 4 }, (_, i) => 0.05 * (1 - i / (2 * k))),
];

describe('parsePissaNiter', () => {
  it("reads the iteration count the way PEFT does (split on '_niter_', Python's int())", () => {
    expect(parsePissaNiter('pissa_niter_4')).toBe(4);
    expect(parsePissaNiter('pissa_niter_0')).toBe(0);
    expect(parsePissaNiter('pissa_niter_ 16 ')).toBe(16);
    expect(parsePissaNiter('pissa_niter_1_0')).toBe(10);
    expect(parsePissaNiter('pissa_niter_+2')).toBe(2);
    expect(parsePissaNiter('pissaX_niter_3')).toBe(3);
  });

  it('rejects malformed values with PEFT’s messages', () => {
    expect(() => parsePissaNiter('pissa_niter_')).toThrow(
      "[pissa] init_lora_weights='pissa_niter_': invalid literal for int() with base 10: '' (expected 'pissa' or 'pissa_niter_[number of iters]')",
    );
    expect(() => parsePissaNiter('pissa_niter_four')).toThrow(
      "[pissa] init_lora_weights='pissa_niter_four': invalid literal for int() with base 10: 'four' (expected 'pissa' or 'pissa_niter_[number of iters]')",
    );
    expect(() => parsePissaNiter('pissa_niter_1.5')).toThrow("invalid literal for int() with base 10: '1.5'");
    expect(() => parsePissaNiter('pissa_fast')).toThrow(
      "[pissa] init_lora_weights should be 'pissa' or 'pissa_niter_[number of iters]', got pissa_fast instead.",
    );
    expect(() => parsePissaNiter('pissa_niter_2_niter_3')).toThrow(
      "[pissa] init_lora_weights should be 'pissa' or 'pissa_niter_[number of iters]', got pissa_niter_2_niter_3 instead.",
    );
    expect(() => parsePissaNiter('pissa_niter_-1')).toThrow(
      "[pissa] init_lora_weights='pissa_niter_-1': the number of power iterations must be ≥ 0, received -1",
    );
  });
});

describe('pissaNiterInit', () => {
  beforeEach(() => manualSeed(3));

  it('reconstructs W exactly for every niter, even where the factors are rough', () => {
    const weight = randn([24, 18]);
    for (const niter of [0, 1, 2, 4]) {
      const { a, b, residual } = pissaNiterInit(weight, 5, 2, niter, { generator: new Generator(niter) });
      expectClose(residual.add(b.mul(2).matmul(a)), weight, 3e-6, `niter ${niter}`);
      // Uᵣ and Vᵣ of the sketch are orthonormal, so BᵀB is diagonal with the approximate S/s.
      const gram = b.T.matmul(b);
      const offDiagonal = gram.sub(gram.mul(eye(5)));
      expect(offDiagonal.abs().max().item(), 'BᵀB is diagonal').toBeLessThan(3e-6);
    }
  });

  it('reproduces the full PiSSA delta on a matrix with a spectral gap, whatever the sketch', () => {
    const weight = withSpectrum(40, 30, gapSpectrum(30));
    const exact = pissaInit(weight, 4, 2);
    const exactDelta = exact.b.matmul(exact.a);
    for (const seed of [0, 1, 2, 3, 4]) {
      for (const niter of [2, 4]) {
        const fast = pissaNiterInit(weight, 4, 2, niter, { generator: new Generator(seed) });
        expect(maxError(fast.b.matmul(fast.a), exactDelta)).toBeLessThan(2e-5);
      }
    }
    // Without power iterations the tail leaks into the subspace: the delta is only roughly right.
    const rough = pissaNiterInit(weight, 4, 2, 0, { generator: new Generator(0) });
    const error = maxError(rough.b.matmul(rough.a), exactDelta);
    expect(error).toBeGreaterThan(1e-4);
    expect(error).toBeLessThan(0.5);
  });

  it('draws the sketch from the given generator: same seed, same factors', () => {
    const weight = randn([16, 16]);
    const one = pissaNiterInit(weight, 3, 1, 1, { generator: new Generator(7) });
    const two = pissaNiterInit(weight, 3, 1, 1, { generator: new Generator(7) });
    const other = pissaNiterInit(weight, 3, 1, 1, { generator: new Generator(8) });
    expect(maxError(one.a, two.a)).toBe(0);
    expect(maxError(one.residual, two.residual)).toBe(0);
    expect(maxError(one.residual, other.residual)).toBeGreaterThan(1e-4);
  });
});

describe("init_lora_weights: 'pissa_niter_N'", () => {
  const config = (init = 'pissa_niter_2') =>
    new LoraConfig({ r: 3, loraAlpha: 6, targetModules: ['proj'], initLoraWeights: init });

  it('preserves the output and is reproducible through withInitGenerator', () => {
    manualSeed(5);
    const weight = randn([12, 20]);
    const x = randn([2, 20]);
    const run = () =>
      withInitGenerator(new Generator(42), () => getPeftModel(new Holder(linearWith(weight)), config()));
    const first = run();
    const second = run();
    expectClose(first.model.call(x) as Tensor, x.matmul(weight.T), 5e-6, 'output');
    const layer = (peft: typeof first) => peft.model.getSubmodule<LoraLinear>('proj');
    expect(maxError(layer(first).baseWeight(), layer(second).baseWeight())).toBe(0);
    const direct = pissaNiterInit(weight, 3, 2, 2, { generator: new Generator(42) });
    expect(maxError(layer(first).baseWeight(), direct.residual)).toBe(0);
  });

  it('uses the default generator outside withInitGenerator (manualSeed makes it reproducible)', () => {
    manualSeed(6);
    const weight = randn([12, 20]);
    const model = new Holder(linearWith(weight)); // builds a Linear, which draws from the default generator
    manualSeed(9);
    const peft = getPeftModel(model, config());
    manualSeed(9);
    const direct = pissaNiterInit(weight, 3, 2, 2);
    expect(maxError(peft.model.getSubmodule<LoraLinear>('proj').baseWeight(), direct.residual)).toBe(0);
  });

  it('rebuilds the same residual when a saved adapter is loaded with the same seed', async () => {
    manualSeed(7);
    const weight = randn([12, 20]);
    const x = randn([2, 20]);
    const peft = withInitGenerator(new Generator(1), () =>
      getPeftModel(new Holder(linearWith(weight)), config('pissa_niter_3')),
    );
    peft.model
      .getSubmodule<LoraLinear>('proj')
      .loraB('default')
      .weight.assign(randn([12, 3]));
    const trained = peft.model.call(x) as Tensor;
    const dir = mkdtempSync(join(tmpdir(), 'pissa-niter-'));
    await saveAdapter(peft, dir);
    const loaded = withInitGenerator(new Generator(1), () =>
      loadAdapter(new Holder(linearWith(weight)), dir),
    );
    expectClose(loaded.model.call(x) as Tensor, trained, 0, 'same seed');
    const drifted = withInitGenerator(new Generator(2), () =>
      loadAdapter(new Holder(linearWith(weight)), dir),
    );
    expect(maxError(drifted.model.call(x) as Tensor, trained)).toBeGreaterThan(1e-3);
  });

  it('rejects malformed values when the layer is initialized', () => {
    expect(() => getPeftModel(new Holder(linearWith(randn([4, 4]))), config('pissa_niter_'))).toThrow(
      "[pissa] init_lora_weights='pissa_niter_': invalid literal for int() with base 10: ''",
    );
  });
});
