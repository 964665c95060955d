import { nativeAvailable } from '@lorakit/cpu-backend';
import { Generator, randn, type Tensor, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { svdFlipRows } from './incremental-pca.js';
import { lowrankFromSvdIsCheaper, svdLowrankSeeded, svdLowrankSeededFromSvd } from './svd-lowrank.js';

function maxAbsDifference(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.toArray() as Float64Array;
  const y = b.toArray() as Float64Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

describe('svdLowrankSeededFromSvd', () => {
  // [rows, columns, q, niter]: tall, much taller, wide, square, and a sketch wider than the matrix.
  const shapes: [number, number, number, number][] = [
    [120, 40, 16, 4],
    [300, 24, 8, 2],
    [30, 80, 12, 4],
    [32, 32, 10, 3],
    [60, 10, 14, 1],
  ];
  // Importing @lorakit/cpu-backend registers `cpu` when its addon is built; tensors name their backend
  // explicitly.
  const backends = nativeAvailable ? ['js', 'cpu'] : ['js'];
  for (const [m, n, q, niter] of shapes)
    for (const backend of backends) {
      it(`equals the sketched randomized SVD on a ${m} × ${n} matrix (q ${q}, niter ${niter}, ${backend})`, () => {
        const generator = new Generator(m * n + q);
        // Columns of geometrically decaying scale, like layer activations: distinct singular values.
        const scales = tensor(
          Float64Array.from({ length: n }, (_, i) => 0.9 ** i),
          { dtype: 'float64', backend },
        );
        const a = randn([m, n], { generator, dtype: 'float64', backend }).mul(scales);
        const expected = svdLowrankSeeded(a, q, niter, 42);
        const actual = svdLowrankSeededFromSvd(a, q, niter, 42);
        const k = Math.min(q, m, n);
        expect(actual.s.shape).toEqual([k]);
        expect(actual.vh.shape).toEqual([k, n]);
        // Not the exact truncated SVD: the same approximation, to float64 rounding (signs fixed by svd_flip).
        expect(maxAbsDifference(actual.s, expected.s)).toBeLessThan(1e-12 * expected.s.max().item());
        expect(maxAbsDifference(svdFlipRows(actual.vh), svdFlipRows(expected.v.T))).toBeLessThan(1e-10);
        // Only the leading right vectors, when asked for.
        const leading = svdLowrankSeededFromSvd(a, q, niter, 42, Math.ceil(k / 2)).vh;
        expect(leading.shape).toEqual([Math.ceil(k / 2), n]);
        expect(maxAbsDifference(leading, actual.vh.narrow(0, 0, Math.ceil(k / 2)))).toBeLessThan(1e-14);
      });
    }
});

describe('lowrankFromSvdIsCheaper', () => {
  it('takes the sketch on the cpu backend for layer-sized matrices, the decompositions for narrow ones', () => {
    // Measured on the cpu backend (2 threads, native float64 GEMM), sketch vs decompositions: EVA on a
    // hidden-256 model (977 rows, q 32) 5.7 vs 21.8 ms; its 688-wide down_proj 10.0 vs 130.8 ms;
    // 100 × 256 2.7 vs 2.9 ms; 2100 × 2048 (q 64) 91 vs 2757 ms; 300 × 24 (q 32) 1.9 vs 0.7 ms.
    expect(lowrankFromSvdIsCheaper(977, 256, 32, 4, 'cpu')).toBe(false);
    expect(lowrankFromSvdIsCheaper(977, 688, 32, 4, 'cpu')).toBe(false);
    expect(lowrankFromSvdIsCheaper(100, 256, 32, 4, 'cpu')).toBe(false);
    expect(lowrankFromSvdIsCheaper(2100, 2048, 64, 4, 'cpu')).toBe(false);
    expect(lowrankFromSvdIsCheaper(300, 24, 32, 4, 'cpu')).toBe(true);
    // js backend: 977 × 256 207 vs 202 ms (a tie), 977 × 688 307 vs 1330 ms.
    expect(lowrankFromSvdIsCheaper(977, 688, 32, 4, 'js')).toBe(false);
  });
});
