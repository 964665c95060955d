import { Generator, randn, svd, type Tensor, tensor } from '@lorakit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  clampFactors,
  randomizedTruncatedSvd,
  truncatedSvd,
  truncatedSvdOfProduct,
} from './truncated-svd.js';

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toArray() as Float32Array;
  const y = b.toArray() as Float32Array;
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

describe('truncatedSvdOfProduct', () => {
  it('property: equals the truncated full SVD of L·R (same signs), B·A is the best rank-k approximation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 6, max: 24 }),
        fc.integer({ min: 6, max: 24 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 1000 }),
        (m, n, p, k, seed) => {
          const g = new Generator(seed);
          const left = randn([m, p], { generator: g });
          const right = randn([p, n], { generator: g });
          const fast = truncatedSvdOfProduct(left, right, k);
          const dense = truncatedSvd(left.matmul(right), k);
          const scale = svd(left.matmul(right)).s.max().item();
          expect(fast.a.shape).toEqual([Math.min(k, p), n]);
          // Components beyond the rank p of L·R are noise in the dense SVD: compare only when k ≤ p.
          if (k <= p) {
            expect(maxAbsDiff(fast.b.matmul(fast.a), dense.b.matmul(dense.a))).toBeLessThan(1e-4 * scale);
            // Singular values (the column norms of B) agree.
            expect(maxAbsDiff(fast.b.norm(2, 0), dense.b.norm(2, 0))).toBeLessThan(1e-4 * scale);
          }
          return true;
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps float64 inputs in float64 and returns A with orthonormal rows', () => {
    const g = new Generator(1);
    const { a, b } = truncatedSvdOfProduct(
      randn([30, 4], { generator: g, dtype: 'float64' }),
      randn([4, 20], { generator: g, dtype: 'float64' }),
      3,
    );
    expect([a.dtype, b.dtype]).toEqual(['float64', 'float64']);
    const gram = a.matmul(a.T).toArray() as Float64Array;
    for (const [i, v] of gram.entries()) expect(Math.abs(v - (i % 4 === 0 ? 1 : 0))).toBeLessThan(1e-12);
  });

  it('rejects mismatched factors', () => {
    expect(() => truncatedSvdOfProduct(randn([4, 2]), randn([3, 4]), 1)).toThrow(
      '[truncatedSvdOfProduct] inner dimensions differ: left is [4, 2], right is [3, 4]',
    );
  });
});

describe('randomizedTruncatedSvd', () => {
  it('matches the exact truncation when the sketch spans the matrix, and is close on a decaying spectrum', () => {
    const g = new Generator(2);
    const lowRank = randn([40, 6], { generator: g }).matmul(randn([6, 30], { generator: g }));
    const noisy = lowRank.add(randn([40, 30], { generator: g, std: 1e-3 }));
    const exact = truncatedSvd(noisy, 4);
    const approx = randomizedTruncatedSvd(noisy, 4, { generator: new Generator(3) });
    const scale = exact.b.abs().max().item();
    expect(maxAbsDiff(approx.b.matmul(approx.a), exact.b.matmul(exact.a))).toBeLessThan(1e-3 * scale);
    const full = randomizedTruncatedSvd(noisy, 4, { oversample: 26, niter: 0 });
    expect(maxAbsDiff(full.b.matmul(full.a), exact.b.matmul(exact.a))).toBeLessThan(1e-4 * scale);
  });
});

describe('clampFactors (svd_clamp)', () => {
  it('clamps both factors to ± the q-quantile of all their entries', () => {
    const b = tensor([
      [1, -8],
      [3, 2],
    ]);
    const a = tensor([[0.5, -4, 6]]).reshape([1, 3]);
    // entries: 1 −8 3 2 0.5 −4 6 → sorted −8 −4 0.5 1 2 3 6; q = 0.5 → 1
    const clamped = clampFactors({ b, a }, 0.5);
    expect(clamped.b.toList()).toEqual([
      [1, -1],
      [1, 1],
    ]);
    expect(clamped.a.toList()).toEqual([[0.5, -1, 1]]);
    // q = 1 → the largest entry, 6: only −8 is clipped (to −6).
    expect(clampFactors({ b, a }, 1).b.toList()).toEqual([
      [1, -6],
      [3, 2],
    ]);
  });

  it('rejects a quantile outside [0, 1]', () => {
    expect(() => clampFactors({ b: tensor([[1]]), a: tensor([[1]]) }, 1.5)).toThrow(
      '[svd_clamp] svd_clamp must be a quantile in [0, 1], received 1.5',
    );
  });
});
