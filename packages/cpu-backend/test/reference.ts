/**
 * Float64 reference GEMM and test-data helpers. The reference follows the BLAS definition literally,
 * including beta = 0 ignoring C and alpha = 0 not reading A or B.
 */
import { expect } from 'vitest';

export interface Layout {
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  lda: number;
  ldb: number;
  ldc: number;
  aOffset: number;
  bOffset: number;
  cOffset: number;
}

/**
 * The layout of op(A)·op(B) for an m × n × k product: dense leading dimensions, or with `padded` leading
 * dimensions and offsets that are not the dense ones (so strides and offsets are exercised).
 */
export function layoutOf(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  padded = false,
): Layout {
  const pad = padded ? 1 : 0;
  return {
    m,
    n,
    k,
    transA,
    transB,
    lda: (transA ? m : k) + 3 * pad,
    ldb: (transB ? k : n) + 5 * pad,
    ldc: n + 7 * pad,
    aOffset: 11 * pad,
    bOffset: pad,
    cOffset: 5 * pad,
  };
}

/** Every (transA, transB) combination. */
export const TRANSPOSES = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

/** Strided-batch operand sharing: none, A broadcast (stride 0), B broadcast. */
export const BROADCASTS = [
  [false, false],
  [true, false],
  [false, true],
] as const;

/** Deterministic values in [-1, 1) (xorshift32), so failures reproduce. */
export function randomArray(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}

/** Storage for a layout: the matrix elements get random values, everything else (padding) NaN. */
export function makeOperands(layout: Layout, seed: number) {
  const { m, n, k, transA, transB, lda, ldb, ldc, aOffset, bOffset, cOffset } = layout;
  const [aRows, aCols] = transA ? [k, m] : [m, k];
  const [bRows, bCols] = transB ? [n, k] : [k, n];
  const fill = (rows: number, cols: number, ld: number, offset: number, s: number) => {
    const array = new Float32Array(offset + rows * ld + 3).fill(Number.NaN);
    const values = randomArray(rows * cols, s);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) array[offset + i * ld + j] = values[i * cols + j]!;
    }
    return array;
  };
  return {
    a: fill(aRows, aCols, lda, aOffset, seed),
    b: fill(bRows, bCols, ldb, bOffset, seed + 1),
    c: fill(m, n, ldc, cOffset, seed + 2),
  };
}

export interface Check {
  /** Largest |got - want| / tolerance over C; <= 1 passes. */
  worst: number;
  /** Elements outside C's matrix that changed (padding must be left alone). */
  touched: number;
}

/** Unit roundoff and absolute floor of the tolerance in {@link checkAgainstReference}, per precision. */
export const FLOAT32_BOUND = { unit: 2 ** -23, floor: 1e-30 } as const;
export const FLOAT64_BOUND = { unit: 2 ** -52, floor: 1e-300 } as const;

/**
 * Compares c (after the product) with the float64 reference computed from a, b and c0 (C before).
 * Tolerance per element: (k + 4) · u · (|alpha| Σ|a||b| + |beta c0|), a standard dot-product error bound
 * for unit roundoff u (2⁻²³ for float32, the default; 2⁻⁵² for float64), plus a tiny absolute floor.
 */
export function checkAgainstReference<T extends Float32Array | Float64Array>(
  layout: Layout,
  alpha: number,
  beta: number,
  a: T,
  b: T,
  c0: T,
  c: T,
  bound: { readonly unit: number; readonly floor: number } = FLOAT32_BOUND,
): Check {
  const { m, n, k, transA, transB, lda, ldb, ldc, aOffset, bOffset, cOffset } = layout;
  const opA = (i: number, p: number) => a[aOffset + (transA ? p * lda + i : i * lda + p)]!;
  const opB = (p: number, j: number) => b[bOffset + (transB ? j * ldb + p : p * ldb + j)]!;
  let worst = 0;
  const inside = new Uint8Array(c.length);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const at = cOffset + i * ldc + j;
      inside[at] = 1;
      let sum = 0;
      let magnitude = 0;
      if (alpha !== 0) {
        for (let p = 0; p < k; p++) {
          const product = opA(i, p) * opB(p, j);
          sum += product;
          magnitude += Math.abs(product);
        }
      }
      const old = beta === 0 ? 0 : beta * c0[at]!;
      const want = alpha * sum + old;
      const tolerance = (k + 4) * bound.unit * (Math.abs(alpha) * magnitude + Math.abs(old)) + bound.floor;
      const got = c[at]!;
      const ratio =
        Number.isNaN(got) || Number.isNaN(want) ? Number.POSITIVE_INFINITY : Math.abs(got - want) / tolerance;
      worst = Math.max(worst, ratio);
    }
  }
  let touched = 0;
  for (let i = 0; i < c.length; i++) {
    if (!inside[i] && !Object.is(c[i], c0[i])) touched++;
  }
  return { worst, touched };
}

/**
 * Checks every product of a strided batch run with alpha 0.5 and beta −1 on dense matrices (strides
 * m·k, k·n and m·n + 2; 0 for a broadcast A or B) against the reference, and that the two elements
 * after each C block are left alone.
 */
export function expectStridedBatch<T extends Float32Array | Float64Array>(
  layout: Layout,
  batch: number,
  [broadcastA, broadcastB]: readonly [boolean, boolean],
  a: T,
  b: T,
  c0: T,
  c: T,
  bound: { readonly unit: number; readonly floor: number } = FLOAT32_BOUND,
): void {
  const { m, n, k } = layout;
  const cSize = m * n + 2;
  for (let i = 0; i < batch; i++) {
    const offsets = {
      aOffset: broadcastA ? 0 : i * m * k,
      bOffset: broadcastB ? 0 : i * k * n,
      cOffset: i * cSize,
    };
    const check = checkAgainstReference({ ...layout, ...offsets }, 0.5, -1, a, b, c0, c, bound);
    expect(check.worst, `batch ${i} of ${m} × ${n} × ${k}`).toBeLessThanOrEqual(1);
    expect(c[i * cSize + m * n]).toBe(c0[i * cSize + m * n]);
    expect(c[i * cSize + m * n + 1]).toBe(c0[i * cSize + m * n + 1]);
  }
}
