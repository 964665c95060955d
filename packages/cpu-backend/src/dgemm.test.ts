import { afterAll, describe, expect, it } from 'vitest';
import {
  BROADCASTS,
  checkAgainstReference,
  expectStridedBatch,
  FLOAT64_BOUND,
  type Layout,
  layoutOf,
  TRANSPOSES,
} from '../test/reference.js';
import { nativeAvailable, nativeLoadError } from './native.js';
import { availableKernels, getNumThreads, setKernel, setNumThreads } from './runtime.js';
import { dgemm, dgemmStridedBatched } from './sgemm.js';

// Every kernel set this CPU runs (avx512, avx2-fma, portable): each has its own DGEMM variant.
const kernels = nativeAvailable ? availableKernels() : [];
const configurations = kernels.flatMap((kernel) => [1, 2].map((threads) => ({ kernel, threads })));
const initialThreads = nativeAvailable ? getNumThreads() : 1;

if (!nativeAvailable) {
  describe('dgemm (native addon)', () => {
    it.skip(`skipped: native addon not available (${nativeLoadError})`, () => {});
  });
}

afterAll(() => {
  if (!nativeAvailable) return;
  setKernel('auto');
  setNumThreads(initialThreads);
});

/** Deterministic doubles in [-1, 1) with full 53-bit mantissas (two xorshift32 draws each). */
function randomDoubles(length: number, seed: number): Float64Array {
  const out = new Float64Array(length);
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  for (let i = 0; i < length; i++) out[i] = (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 52 - 1;
  return out;
}

/** Storage for a layout: the matrix elements random, everything else (padding) NaN. */
function operands(layout: Layout, seed: number) {
  const { m, n, k, transA, transB, lda, ldb, ldc, aOffset, bOffset, cOffset } = layout;
  const fill = (rows: number, cols: number, ld: number, offset: number, s: number) => {
    const array = new Float64Array(offset + rows * ld + 3).fill(Number.NaN);
    const values = randomDoubles(rows * cols, s);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) array[offset + i * ld + j] = values[i * cols + j]!;
    }
    return array;
  };
  return {
    a: fill(transA ? k : m, transA ? m : k, lda, aOffset, seed),
    b: fill(transB ? n : k, transB ? k : n, ldb, bOffset, seed + 1),
    c: fill(m, n, ldc, cOffset, seed + 2),
  };
}

/** The product against the float64 reference, with float64's rounding bound (see test/reference.ts). */
function compare(
  layout: Layout,
  alpha: number,
  beta: number,
  a: Float64Array,
  b: Float64Array,
  c0: Float64Array,
  c: Float64Array,
) {
  return checkAgainstReference(layout, alpha, beta, a, b, c0, c, FLOAT64_BOUND);
}

function run(layout: Layout, alpha: number, beta: number, seed: number, cInit?: (c: Float64Array) => void) {
  const { a, b, c } = operands(layout, seed);
  if (cInit) cInit(c);
  const c0 = c.slice();
  dgemm({ ...layout, a, b, c, alpha, beta });
  return compare(layout, alpha, beta, a, b, c0, c);
}

// Edge tiles in every direction (the tiles are 4 × 4, 6 × 8 and 12 × 16), k across KC = 256, one row or
// column, and products big enough to be split across threads (by rows, or by columns when C is wide).
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 257, 3],
  [257, 1, 7],
  [3, 7, 17],
  [7, 3, 257],
  [13, 17, 129],
  [65, 17, 3],
  [129, 7, 65],
  [25, 33, 513],
  [977, 32, 256],
  [200, 130, 90],
  [12, 700, 100],
];

describe.each(configurations)('dgemm, $kernel kernel, $threads thread(s)', ({ kernel, threads }) => {
  const select = () => {
    setKernel(kernel);
    setNumThreads(threads);
  };

  for (const [transA, transB] of TRANSPOSES) {
    it(`matches a float64 k loop, transA ${transA}, transB ${transB}`, () => {
      select();
      shapes.forEach(([m, n, k], index) => {
        const check = run(layoutOf(m, n, k, transA, transB), 1, 0, 100 + index);
        expect(check.touched, `${m} × ${n} × ${k}`).toBe(0);
        expect(check.worst, `${m} × ${n} × ${k}`).toBeLessThanOrEqual(1);
      });
    });

    it(`honours lda/ldb/ldc and offsets, alpha and beta, transA ${transA}, transB ${transB}`, () => {
      select();
      for (const [m, n, k] of [
        [17, 65, 7],
        [65, 3, 300],
        [140, 40, 257],
      ] as const) {
        const layout = layoutOf(m, n, k, transA, transB, true);
        for (const [alpha, beta] of [
          [-0.75, 1.25],
          [2.5, 0],
          [1, -1],
        ] as const) {
          const check = run(layout, alpha, beta, m + n + k);
          expect(check.touched, `${m} × ${n} × ${k}`).toBe(0);
          expect(check.worst, `${m} × ${n} × ${k}`).toBeLessThanOrEqual(1);
        }
        // beta = 0 never reads C: NaN there does not propagate.
        expect(run(layout, 1.5, 0, 9, (c) => c.fill(Number.NaN)).worst).toBeLessThanOrEqual(1);
      }
    });
  }

  it('alpha = 0 and k = 0 scale C by beta without reading A or B', () => {
    select();
    const m = 9;
    const n = 21;
    const c = randomDoubles(m * n, 3);
    const c0 = c.slice();
    const nan = (length: number) => new Float64Array(length).fill(Number.NaN);
    dgemm({ m, n, k: 5, a: nan(m * 5), b: nan(5 * n), c, alpha: 0, beta: 2 });
    expect(Array.from(c)).toEqual(Array.from(c0, (v) => 2 * v));
    dgemm({ m, n, k: 2 ** 40, a: new Float64Array(0), b: new Float64Array(0), c, alpha: 0, beta: 0.5 });
    expect(Array.from(c)).toEqual(Array.from(c0));
    dgemm({ m, n, k: 0, a: new Float64Array(0), b: new Float64Array(0), c, beta: 0 });
    expect(c.every((v) => v === 0)).toBe(true);
  });

  it('dgemmStridedBatched with broadcast A or B (stride 0)', () => {
    select();
    for (const [m, n, k, batch] of [
      [5, 7, 9, 6],
      [33, 17, 65, 3],
      [130, 70, 90, 2],
      [0, 4, 3, 2],
      [4, 4, 0, 3],
    ] as const) {
      for (const [broadcastA, broadcastB] of BROADCASTS) {
        for (const [transA, transB] of TRANSPOSES) {
          const dense = layoutOf(m, n, k, transA, transB);
          // Leading dimensions are at least 1 even where a dim is 0.
          const layout = {
            ...dense,
            lda: Math.max(1, dense.lda),
            ldb: Math.max(1, dense.ldb),
            ldc: Math.max(1, dense.ldc),
          };
          const aSize = m * k;
          const bSize = k * n;
          const cSize = m * n + 2;
          const a = randomDoubles(aSize * (broadcastA ? 1 : batch), 1);
          const b = randomDoubles(bSize * (broadcastB ? 1 : batch), 2);
          const c = randomDoubles(cSize * batch, 3);
          const c0 = c.slice();
          dgemmStridedBatched({
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
          expectStridedBatch(layout, batch, [broadcastA, broadcastB], a, b, c0, c, FLOAT64_BOUND);
        }
      }
    }
  });
});
