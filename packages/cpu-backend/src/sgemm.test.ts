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
import { availableKernels, cpuFeatures, getNumThreads, setKernel, setNumThreads } from './runtime.js';
import { sgemm, sgemmStridedBatched } from './sgemm.js';

// Every kernel set this CPU runs (avx512, avx2-fma, portable).
const kernels = nativeAvailable ? availableKernels() : [];
const configurations = kernels.flatMap((kernel) => [1, 2].map((threads) => ({ kernel, threads })));
const initialThreads = nativeAvailable ? getNumThreads() : 1;

if (!nativeAvailable) {
  describe('sgemm (native addon)', () => {
    it.skip(`skipped: native addon not available (${nativeLoadError})`, () => {});
  });
}

afterAll(() => {
  if (!nativeAvailable) return;
  setKernel('auto');
  setNumThreads(initialThreads);
});

function run(layout: Layout, alpha: number, beta: number, seed: number, cInit?: (c: Float32Array) => void) {
  const { a, b, c } = makeOperands(layout, seed);
  if (cInit) cInit(c);
  const c0 = c.slice();
  sgemm({ ...layout, a, b, c, alpha, beta });
  return checkAgainstReference(layout, alpha, beta, a, b, c0, c);
}

// m × n × k mixes of the odd sizes 1, 3, 7, 17, 65, 129, 257: edge tiles in every direction, k across the
// KC = 256 boundary, skinny n (the dot-product path when A is not transposed, the transposed packed
// product when it is: 300 × 5 × 300, 200 × 8 × 130).
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [1, 257, 3],
  [257, 1, 7],
  [3, 7, 17],
  [7, 3, 257],
  [17, 65, 129],
  [65, 17, 3],
  [129, 7, 65],
  [129, 257, 17],
  [257, 129, 1],
  [65, 65, 257],
  [7, 129, 300],
  [150, 33, 270],
  [26, 32, 513],
  [300, 5, 300],
  [200, 8, 130],
];

describe.each(configurations)('sgemm, $kernel kernel, $threads thread(s)', ({ kernel, threads }) => {
  const select = () => {
    setKernel(kernel);
    setNumThreads(threads);
  };

  it('reports the selected kernel', () => {
    select();
    expect(cpuFeatures().kernel).toBe(kernel);
    expect(getNumThreads()).toBe(threads);
  });

  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`matches the float64 reference, transA ${transA}, transB ${transB}`, () => {
        select();
        shapes.forEach(([m, n, k], index) => {
          const check = run(layoutOf(m, n, k, transA, transB), 1, 0, 100 + index);
          expect(check.touched, `${m} × ${n} × ${k}`).toBe(0);
          expect(check.worst, `${m} × ${n} × ${k}`).toBeLessThanOrEqual(1);
        });
      });

      it(`honours lda/ldb/ldc and offsets, transA ${transA}, transB ${transB}`, () => {
        select();
        for (const [m, n, k] of [
          [17, 65, 7],
          [65, 3, 129],
          [129, 17, 257],
          [7, 40, 33],
          [129, 5, 200],
        ] as const) {
          const base = layoutOf(m, n, k, transA, transB);
          const layout = {
            ...base,
            lda: base.lda + 3,
            ldb: base.ldb + 5,
            ldc: base.ldc + 7,
            aOffset: 11,
            bOffset: 1,
            cOffset: 5,
          };
          const check = run(layout, -0.75, 1.25, m + n + k);
          expect(check.touched, `${m} × ${n} × ${k}`).toBe(0);
          expect(check.worst, `${m} × ${n} × ${k}`).toBeLessThanOrEqual(1);
        }
      });
    }
  }

  it('alpha and beta follow BLAS', () => {
    select();
    for (const [m, n, k] of [
      [65, 33, 129],
      [64, 8, 300],
    ] as const) {
      for (const transB of [false, true]) {
        const layout = layoutOf(m, n, k, false, transB);
        for (const [alpha, beta] of [
          [2.5, 0],
          [-1, 1],
          [0.5, -2],
          [1, 0.25],
        ] as const) {
          expect(run(layout, alpha, beta, 7).worst).toBeLessThanOrEqual(1);
        }
        // beta = 0 never reads C: NaN there does not propagate.
        const fromNaN = run(layout, 1.5, 0, 9, (c) => c.fill(Number.NaN));
        expect(fromNaN.worst).toBeLessThanOrEqual(1);
      }
    }
  });

  it('works on views into larger buffers (byteOffset), and leaves the rest of the buffer alone', () => {
    select();
    const m = 33;
    const n = 20;
    const k = 70;
    const buffer = new ArrayBuffer(4 * (m * k + k * n + m * n + 3 * 16));
    const a = new Float32Array(buffer, 4 * 5, m * k);
    const b = new Float32Array(buffer, 4 * (16 + m * k), k * n);
    const c = new Float32Array(buffer, 4 * (32 + m * k + k * n), m * n);
    a.set(randomArray(m * k, 1));
    b.set(randomArray(k * n, 2));
    const whole = new Float32Array(buffer);
    const before = whole.slice();
    for (const transB of [false, true]) {
      const layout = layoutOf(m, n, k, false, transB);
      sgemm({ ...layout, a, b, c });
      expect(checkAgainstReference(layout, 1, 0, a, b, new Float32Array(m * n), c).worst).toBeLessThanOrEqual(
        1,
      );
    }
    const cStart = 32 + m * k + k * n;
    for (let i = 0; i < whole.length; i++) {
      if (i < cStart || i >= cStart + m * n) expect(whole[i]).toBe(before[i]);
    }
  });

  it('alpha = 0 and k = 0 scale C by beta without reading A or B', () => {
    select();
    const m = 9;
    const n = 21;
    const c = randomArray(m * n, 3);
    const c0 = c.slice();
    const a = new Float32Array(m * 5).fill(Number.NaN);
    const b = new Float32Array(5 * n).fill(Number.NaN);
    sgemm({ m, n, k: 5, a, b, c, alpha: 0, beta: 2 });
    expect(Array.from(c)).toEqual(Array.from(c0, (v) => Math.fround(2 * v)));
    // With alpha = 0 neither A nor B is read, so k is not bounded by any length (no overflow inside).
    sgemm({ m, n, k: 2 ** 40, a: new Float32Array(0), b: new Float32Array(0), c, alpha: 0, beta: 0.5 });
    expect(Array.from(c)).toEqual(Array.from(c0, (v) => Math.fround(Math.fround(2 * v) * 0.5)));
    sgemm({ m, n, k: 0, a: new Float32Array(0), b: new Float32Array(0), c, beta: 0 });
    expect(c.every((v) => v === 0)).toBe(true);
  });

  it('handles the LoRA shapes (x · Aᵀ and h · Bᵀ) and the blocking boundaries', () => {
    select();
    // x [96 × 1030] · Aᵀ with A [8 × 1030]; h [96 × 8] · Bᵀ with B [1030 × 8] (and the same with B not
    // transposed, as in the backward pass); n across NC in 7 × 4100 × 40; matrix-vector-like products
    // with one or two rows, n above the dot kernel's 256-column chunk.
    for (const [m, n, k] of [
      [96, 8, 1030],
      [96, 16, 1030],
      [96, 1030, 8],
      [96, 1030, 16],
      [7, 4100, 40],
      [300, 20, 40],
      [1, 600, 70],
      [2, 300, 1030],
    ] as const) {
      for (const transB of [true, false]) {
        const check = run(layoutOf(m, n, k, false, transB), 1, 0, n);
        expect(check.worst, `${m} × ${n} × ${k}, transB ${transB}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('sgemmStridedBatched with broadcast A or B (stride 0)', () => {
    select();
    for (const [m, n, k, batch] of [
      [5, 7, 9, 6],
      [33, 17, 65, 3],
      [130, 70, 90, 2],
      [40, 8, 64, 5],
      [200, 6, 140, 3],
    ] as const) {
      for (const [broadcastA, broadcastB] of BROADCASTS) {
        for (const [transA, transB] of TRANSPOSES) {
          const layout = layoutOf(m, n, k, transA, transB);
          const aSize = m * k;
          const bSize = k * n;
          const cSize = m * n + 2;
          const a = randomArray(aSize * (broadcastA ? 1 : batch), 1);
          const b = randomArray(bSize * (broadcastB ? 1 : batch), 2);
          const c = randomArray(cSize * batch, 3);
          const c0 = c.slice();
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
          expectStridedBatch(layout, batch, [broadcastA, broadcastB], a, b, c0, c);
        }
      }
    }
  });
});
