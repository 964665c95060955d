/**
 * Every kernel set against the portable one, around the tiles and blocking of each set: the AVX-512 set
 * computes 14 × 32 tiles with KC = 512, AVX2 6 × 16 with KC = 256, so sizes just off multiples of 14, 16,
 * 32, 256 and 512 (and k = 0, 1) reach every edge path of the packers, micro-kernels and skinny kernels. Both results
 * must lie within the float32 error bound of the float64 reference (so they agree with each other within
 * twice that bound), leave everything outside C alone, and agree exactly where no arithmetic happens.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  BROADCASTS,
  checkAgainstReference,
  expectStridedBatch,
  type Layout,
  layoutOf,
  makeOperands,
  randomArray,
  TRANSPOSES,
} from '../test/reference.js';
import { nativeAvailable, nativeLoadError } from './native.js';
import { availableKernels, type CpuKernel, getNumThreads, setKernel, setNumThreads } from './runtime.js';
import { sgemm, sgemmStridedBatched } from './sgemm.js';

const fast = nativeAvailable ? availableKernels().filter((kernel) => kernel !== 'portable') : [];
const initialThreads = nativeAvailable ? getNumThreads() : 1;

afterAll(() => {
  if (!nativeAvailable) return;
  setKernel('auto');
  setNumThreads(initialThreads);
});

/** Runs one product on `kernel` and returns C afterwards with its check against the reference. */
function runOn(kernel: CpuKernel, layout: Layout, alpha: number, beta: number, seed: number) {
  setKernel(kernel);
  const { a, b, c } = makeOperands(layout, seed);
  const c0 = c.slice();
  sgemm({ ...layout, a, b, c, alpha, beta });
  return { c, check: checkAgainstReference(layout, alpha, beta, a, b, c0, c) };
}

// m × n × k around MR = 14 / 6, NR = 32 / 16, KC = 256 / 512 and the skinny paths (n ≤ 32 with A's rows
// contiguous, k across the AVX-512 dot kernel's chunks of 16384 / n floats; m ≤ 2 against B stored n × k;
// the transposed product for few columns).
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [13, 31, 1],
  [14, 32, 2],
  [15, 33, 17],
  [27, 63, 255],
  [28, 64, 256],
  [29, 65, 257],
  [43, 97, 300],
  [30, 66, 511],
  [16, 48, 513],
  [57, 8, 515],
  [100, 17, 1031],
  [20, 8, 2100],
  [10, 32, 600],
  [3, 200, 129],
  [2, 95, 600],
  [1, 129, 33],
  [31, 129, 40],
  [200, 9, 140],
  [517, 70, 31],
  [41, 1100, 9],
];

describe.skipIf(fast.length === 0)(
  `kernel sets agree with the portable one${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
  () => {
    describe.each(fast.flatMap((kernel) => [1, 2].map((threads) => ({ kernel, threads }))))(
      '$kernel, $threads thread(s)',
      ({ kernel, threads }) => {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            it(`every edge size, transA ${transA}, transB ${transB}`, () => {
              setNumThreads(threads);
              shapes.forEach(([m, n, k], index) => {
                for (const padded of [false, true]) {
                  const layout = layoutOf(m, n, k, transA, transB, padded);
                  const [alpha, beta] = padded ? [-0.75, 1.25] : [1, 0];
                  const ours = runOn(kernel, layout, alpha, beta, 300 + index);
                  const reference = runOn('portable', layout, alpha, beta, 300 + index);
                  const label = `${m} × ${n} × ${k}${padded ? ', padded' : ''}`;
                  expect(ours.check.touched, label).toBe(0);
                  expect(ours.check.worst, label).toBeLessThanOrEqual(1);
                  expect(reference.check.worst, label).toBeLessThanOrEqual(1);
                }
              });
            });
          }
        }

        it('alpha and beta, k = 0 and alpha = 0 as BLAS defines them', () => {
          setNumThreads(threads);
          for (const [m, n, k] of [
            [29, 65, 257],
            [57, 8, 515],
            [2, 95, 600],
          ] as const) {
            for (const [alpha, beta] of [
              [2.5, 0],
              [-1, 1],
              [0.5, -2],
              [1, 0.25],
            ] as const) {
              const layout = layoutOf(m, n, k, false, true, true);
              expect(runOn(kernel, layout, alpha, beta, 5).check.worst).toBeLessThanOrEqual(1);
            }
          }
          // No arithmetic on A and B: both sets give exactly beta · C (and zeros for beta = 0).
          for (const [k, alpha, beta] of [
            [0, 1, 0.5],
            [0, 1, 0],
            [7, 0, -3],
          ] as const) {
            const layout = layoutOf(33, 70, k, true, false, true);
            const ours = runOn(kernel, layout, alpha, beta, 9).c;
            const reference = runOn('portable', layout, alpha, beta, 9).c;
            expect(Array.from(ours)).toEqual(Array.from(reference));
          }
        });

        it('sgemmStridedBatched: small and large products, broadcast operands, all transposes', () => {
          setNumThreads(threads);
          for (const [m, n, k, batch] of [
            [15, 33, 17, 5],
            [29, 40, 257, 3],
            [200, 30, 300, 2],
            [64, 64, 64, 7],
          ] as const) {
            for (const [broadcastA, broadcastB] of BROADCASTS) {
              for (const [transA, transB] of TRANSPOSES) {
                const layout = layoutOf(m, n, k, transA, transB, false);
                const aSize = m * k;
                const bSize = k * n;
                const cSize = m * n + 2;
                const a = randomArray(aSize * (broadcastA ? 1 : batch), 1);
                const b = randomArray(bSize * (broadcastB ? 1 : batch), 2);
                const c0 = randomArray(cSize * batch, 3);
                const results = (['portable', kernel] as const).map((set) => {
                  setKernel(set);
                  const c = c0.slice();
                  sgemmStridedBatched({
                    ...layout,
                    a,
                    b,
                    c,
                    alpha: 0.5,
                    beta: -1,
                    batch,
                    strideA: broadcastA ? 0 : aSize,
                    strideB: broadcastB ? 0 : bSize,
                    strideC: cSize,
                  });
                  return c;
                });
                for (const c of results)
                  expectStridedBatch(layout, batch, [broadcastA, broadcastB], a, b, c0, c);
              }
            }
          }
        });
      },
    );
  },
);
