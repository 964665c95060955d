import {
  getBackend,
  manualSeed,
  randn,
  registerBackend,
  type Tensor,
  tidy,
  unregisterBackend,
  withBackend,
} from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { cachedSquaredRowNorm, doraWeightNorm, doraWeightNormComposed, squaredRowNorm } from './dora-norm.js';

/** max |a − b| / max |b|. */
function relativeDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item() / b.abs().max().item();
}

/** W [out, in], A [r, in], B [out, r] with s·BA a sizeable part of W (not a cancellation-free toy). */
function factors(dtype: 'float32' | 'float64', out = 24, inFeatures = 40, r = 6) {
  return {
    w: randn([out, inFeatures], { dtype }),
    a: randn([r, inFeatures], { dtype, std: 0.3 }),
    b: randn([out, r], { dtype, std: 0.3 }),
  };
}

function factored(w: Tensor, a: Tensor, b: Tensor, s: number): Tensor {
  return doraWeightNorm(w, a, b, s, squaredRowNorm(w, [1]));
}

describe('doraWeightNorm (factored) against doraWeightNormComposed (W + s·BA built)', () => {
  it('float32 agrees within float32 rounding, and the result is float32 and detached', () => {
    manualSeed(1);
    const { w, a, b } = factors('float32');
    a.setRequiresGrad();
    b.setRequiresGrad();
    const ours = factored(w, a, b, 1.5);
    expect(ours.shape).toEqual([24]);
    expect(ours.dtype).toBe('float32');
    expect(ours.requiresGrad).toBe(false);
    expect(relativeDiff(ours, doraWeightNormComposed(w, a, b, 1.5))).toBeLessThan(1e-6);
  });

  it('float64 agrees to float64 rounding', () => {
    manualSeed(2);
    const { w, a, b } = factors('float64');
    const ours = factored(w, a, b, 0.25);
    expect(ours.dtype).toBe('float64');
    expect(relativeDiff(ours, doraWeightNormComposed(w, a, b, 0.25))).toBeLessThan(1e-13);
  });

  it('reads a transposed view in place (GPT-2 Conv1D stores W as [in, out])', () => {
    manualSeed(3);
    const { w, a, b } = factors('float32');
    const stored = w.T.contiguous();
    const ours = doraWeightNorm(stored.T, a, b, 2, squaredRowNorm(stored, [0]));
    expect(relativeDiff(ours, doraWeightNormComposed(w, a, b, 2))).toBeLessThan(1e-6);
  });

  it('a bfloat16 W on the JS backend: a float32 product over the decoded values', () => {
    manualSeed(4);
    const { w, a, b } = factors('float32');
    const half = w.cast('bfloat16');
    const ours = factored(half, a, b, 2);
    expect(ours.dtype).toBe('float32');
    // The reference widens the same bfloat16 values; nothing is rounded to bfloat16 on this path.
    expect(relativeDiff(ours, doraWeightNormComposed(half, a, b, 2))).toBeLessThan(1e-6);
  });

  it('a bfloat16 W where the backend computes 16 bits natively: a mixed product for r ≤ 64, a bfloat16 GEMM above', () => {
    const name = 'js-dora-half';
    registerBackend({ ...getBackend('js'), name, fusedHalfPrecision: true });
    try {
      withBackend(name, () => {
        manualSeed(5);
        for (const [r, low, high] of [
          [16, 0, 1e-6],
          [72, 1e-6, 2 ** -8],
        ] as const) {
          const { w, a, b } = factors('float32', 24, 40, r);
          const half = w.cast('bfloat16');
          const ours = factored(half, a, b, 2);
          expect(ours.dtype).toBe('float32');
          const error = relativeDiff(ours, doraWeightNormComposed(half, a, b, 2));
          // Above rank 64, A and the [out, r] product are rounded to bfloat16 (2⁻⁸ relative).
          expect(error, `r=${r}`).toBeLessThan(high);
          expect(error, `r=${r}`).toBeGreaterThanOrEqual(low);
        }
      });
    } finally {
      unregisterBackend(name);
    }
  });

  it('s·BA tiny next to W: the norm keeps float32 relative precision (cancellation in the expansion)', () => {
    manualSeed(6);
    const { w, a, b } = factors('float64');
    const tinyB = b.mul(1e-6);
    const reference = doraWeightNormComposed(w, a, tinyB, 1);
    const ours = factored(w.float(), a.float(), tinyB.float(), 1);
    expect(relativeDiff(ours.double(), reference)).toBeLessThan(1e-6);
  });

  it('a row that W + s·BA cancels exactly gives a finite norm ≥ 0, never NaN', () => {
    manualSeed(7);
    const { a, b } = factors('float32');
    // W = −s·BA: every row of the sum is 0, so the expanded squared norm is 0 up to rounding (maybe < 0).
    const w = b.matmul(a).mul(-2);
    const ours = factored(w, a, b, 2);
    const values = Array.from(ours.toArray() as Float32Array);
    expect(values.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(Math.max(...values)).toBeLessThan(1e-3 * w.abs().max().item());
  });
});

describe('cachedSquaredRowNorm', () => {
  it('computes once per weight, axes and version; an in-place write recomputes it', () => {
    manualSeed(8);
    const w = randn([5, 7]);
    const first = cachedSquaredRowNorm(w, [1]);
    expect(cachedSquaredRowNorm(w, [1])).toBe(first);
    const columns = cachedSquaredRowNorm(w, [0]);
    expect(columns.shape).toEqual([7]);
    expect(relativeDiff(columns, w.square().sum(0))).toBeLessThan(1e-6);
    w.narrow(0, 1, 1).assign(3);
    const second = cachedSquaredRowNorm(w, [1]);
    expect(second).not.toBe(first);
    expect(first.disposed).toBe(true);
    expect(relativeDiff(second, w.square().sum(1))).toBeLessThan(1e-6);
    expect(second.toArray()[1]).toBeCloseTo(63, 4);
  });

  it('an in-place write through another view of the same storage also invalidates it', () => {
    manualSeed(9);
    const w = randn([4, 3]);
    const first = cachedSquaredRowNorm(w, [1]);
    w.T.narrow(0, 0, 1).assign(0);
    expect(cachedSquaredRowNorm(w, [1])).not.toBe(first);
    expect(relativeDiff(cachedSquaredRowNorm(w, [1]), w.square().sum(1))).toBeLessThan(1e-6);
  });

  it('outlives the tidy scope that filled it', () => {
    manualSeed(10);
    const w = randn([3, 3]);
    const inside = tidy(() => {
      cachedSquaredRowNorm(w, [1]);
      return w.add(0);
    });
    inside.dispose();
    const cached = cachedSquaredRowNorm(w, [1]);
    expect(cached.disposed).toBe(false);
    expect(relativeDiff(cached, w.square().sum(1))).toBeLessThan(1e-6);
  });
});
