/**
 * Helpers that put computed singular vectors and eigenvectors (stored as rows) into the documented
 * order and sign convention.
 */

/** Indices 0..count−1 sorted by `keys`, descending or ascending; stable, so ties keep their order. */
export function sortedOrder(keys: Float64Array, count: number, descending: boolean): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  order.sort((i, j) => (descending ? keys[j]! - keys[i]! : keys[i]! - keys[j]!) || i - j);
  return order;
}

/** Reorders rows 0..order.length−1 of a row-major matrix so that new row i is old row order[i]. */
export function permuteRows(mat: Float64Array, cols: number, order: readonly number[]): void {
  const copy = mat.slice(0, order.length * cols);
  for (let i = 0; i < order.length; i++) {
    const from = order[i]!;
    if (from !== i) mat.set(copy.subarray(from * cols, from * cols + cols), i * cols);
  }
}

/** Index of the entry of largest magnitude in row `row` (the first one on ties). */
export function largestEntry(mat: Float64Array, cols: number, row: number): number {
  const offset = row * cols;
  let best = 0;
  let bestMagnitude = -1;
  for (let t = 0; t < cols; t++) {
    const magnitude = Math.abs(mat[offset + t]!);
    if (magnitude > bestMagnitude) {
      bestMagnitude = magnitude;
      best = t;
    }
  }
  return offset + best;
}

/** Negates row `row` of a row-major matrix. */
export function negateRow(mat: Float64Array, cols: number, row: number): void {
  for (let t = row * cols, end = t + cols; t < end; t++) mat[t] = -mat[t]!;
}

/** Transpose of a row-major rows×cols matrix. */
export function transpose(mat: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  // Blocks of 32×32 keep both the reads and the strided writes in cache.
  const block = 32;
  for (let i0 = 0; i0 < rows; i0 += block) {
    const i1 = Math.min(i0 + block, rows);
    for (let j0 = 0; j0 < cols; j0 += block) {
      const j1 = Math.min(j0 + block, cols);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) out[j * rows + i] = mat[i * cols + j]!;
      }
    }
  }
  return out;
}

/**
 * A power of two s such that s·max|a| is of order one when max|a| is far from it, else 1. Scaling by a
 * power of two is exact; it keeps the squares in Wilkinson shifts from over- or underflowing.
 */
export function safeScale(a: Float64Array): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]!));
  if (largest === 0 || (largest > 2 ** -400 && largest < 2 ** 400)) return 1;
  const exponent = Math.max(-1000, Math.min(1000, -Math.ceil(Math.log2(largest))));
  return 2 ** exponent;
}
