import type { View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { allocateNumeric, finish, type JsStorage, type NumericArray, numeric } from './storage.js';
import { forEachRow } from './strided.js';

const BLOCK_K = 128;
const BLOCK_N = 256;

/**
 * Batched matrix product. Each operand block is packed into a contiguous float64 panel (this handles
 * any strides — transposed views cost a copy here, not an error), then multiplied with an i-k-j loop
 * blocked over k and n so the active rows of B and C stay in cache.
 */
export function matmul(a: View, b: View, outDtype: Dtype): JsStorage {
  const left = numeric(a);
  const right = numeric(b);
  const rank = a.shape.length;
  const m = a.shape[rank - 2]!;
  const k = a.shape[rank - 1]!;
  const n = b.shape[rank - 1]!;
  const batchShape = a.shape.slice(0, -2);
  const batch = batchShape.reduce((x, y) => x * y, 1);
  const out = allocateNumeric(outDtype, batch * m * n);
  const packedA = new Float64Array(m * k);
  const packedB = new Float64Array(k * n);
  const accumulator = new Float64Array(m * n);
  let index = 0;
  const runOne = (offsetA: number, offsetB: number) => {
    pack(left.data, offsetA, left.strides[rank - 2]!, left.strides[rank - 1]!, m, k, packedA);
    pack(right.data, offsetB, right.strides[rank - 2]!, right.strides[rank - 1]!, k, n, packedB);
    accumulator.fill(0);
    multiply(packedA, packedB, accumulator, m, k, n);
    const base = index * m * n;
    for (let i = 0; i < m * n; i++) out[base + i] = accumulator[i]!;
    index++;
  };
  if (batchShape.length === 0) runOne(left.offset, right.offset);
  else
    forEachRow(
      batchShape,
      [left.strides.slice(0, -2), right.strides.slice(0, -2)],
      [left.offset, right.offset],
      ([oa, ob], length, [sa, sb]) => {
        for (let j = 0; j < length; j++) runOne(oa! + j * sa!, ob! + j * sb!);
      },
    );
  return finish(outDtype, out);
}

function pack(
  src: NumericArray,
  offset: number,
  rowStride: number,
  colStride: number,
  rows: number,
  cols: number,
  dst: Float64Array,
): void {
  let o = 0;
  for (let i = 0; i < rows; i++) {
    let p = offset + i * rowStride;
    for (let j = 0; j < cols; j++, p += colStride) dst[o++] = src[p]!;
  }
}

function multiply(a: Float64Array, b: Float64Array, c: Float64Array, m: number, k: number, n: number): void {
  for (let p0 = 0; p0 < k; p0 += BLOCK_K) {
    const p1 = Math.min(k, p0 + BLOCK_K);
    for (let j0 = 0; j0 < n; j0 += BLOCK_N) {
      const j1 = Math.min(n, j0 + BLOCK_N);
      for (let i = 0; i < m; i++) {
        const rowC = i * n;
        const rowA = i * k;
        for (let p = p0; p < p1; p++) {
          const av = a[rowA + p]!;
          const rowB = p * n;
          for (let j = j0; j < j1; j++) c[rowC + j] = c[rowC + j]! + av * b[rowB + j]!;
        }
      }
    }
  }
}
