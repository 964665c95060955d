import type { View } from '../../backend/kernels.js';
import { allocateNumeric, finish, type JsStorage, type NumericView, numeric } from './storage.js';

/** Element offsets of the first element of each row (all dims but the last) of a view, in row-major order. */
function rowOffsets(view: NumericView, rows: number): Float64Array {
  const rank = view.shape.length;
  const offsets = new Float64Array(rows);
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let offset = view.offset;
  for (let r = 0; r < rows; r++) {
    offsets[r] = offset;
    // Step the multi-index over the leading dims, last leading dim fastest.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]!++;
      offset += view.strides[d]!;
      if (index[d]! < view.shape[d]!) break;
      offset -= index[d]! * view.strides[d]!;
      index[d] = 0;
    }
  }
  return offsets;
}

/**
 * Keys a query row may attend to: all of them, or with `causal` the first `i + keys − queries + 1` (query
 * i sits at position keys − queries + i, after the cached ones).
 */
export function allowedKeys(row: number, queries: number, keys: number, causal: boolean): number {
  if (!causal) return keys;
  return Math.min(keys, (row % queries) + keys - queries + 1);
}

/**
 * The reference attention softmax: for scores x [..., queries, keys], row by row in float64,
 * softmax(scale·x + bias) over the allowed keys (see {@link allowedKeys}); excluded keys get exactly 0.
 * `bias` is already broadcast to x's shape.
 */
export function attentionSoftmax(scores: View, scale: number, bias: View | null, causal: boolean): JsStorage {
  const rank = scores.shape.length;
  const keys = scores.shape[rank - 1]!;
  const queries = scores.shape[rank - 2]!;
  const size = scores.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(scores.dtype, size);
  if (size === 0) return finish(scores.dtype, out);
  const rows = size / keys;
  const x = numeric(scores);
  const b = bias ? numeric(bias) : null;
  const xRows = rowOffsets(x, rows);
  const bRows = b ? rowOffsets(b, rows) : null;
  const xStep = x.strides[rank - 1]!;
  const bStep = b ? b.strides[rank - 1]! : 0;
  const z = new Float64Array(keys);
  for (let r = 0; r < rows; r++) {
    const limit = allowedKeys(r, queries, keys, causal);
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < limit; j++) {
      const v = scale * x.data[xRows[r]! + j * xStep]! + (b ? b.data[bRows![r]! + j * bStep]! : 0);
      z[j] = v;
      if (v > max || Number.isNaN(v)) max = v;
    }
    if (max === Number.NEGATIVE_INFINITY) max = 0;
    let sum = 0;
    for (let j = 0; j < limit; j++) {
      z[j] = Math.exp(z[j]! - max);
      sum += z[j]!;
    }
    const base = r * keys;
    for (let j = 0; j < limit; j++) out[base + j] = z[j]! / sum;
    // Typed arrays start zero-filled: the excluded keys already hold 0.
  }
  return finish(scores.dtype, out);
}

/**
 * The reference backward of {@link attentionSoftmax} with respect to the scores:
 * scale · p ∘ (g − Σⱼ gⱼ pⱼ) per row, in float64. `grad` and `probs` have the scores' shape.
 */
export function attentionSoftmaxBackward(grad: View, probs: View, scale: number): JsStorage {
  const rank = probs.shape.length;
  const keys = probs.shape[rank - 1]!;
  const size = probs.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(probs.dtype, size);
  if (size === 0) return finish(probs.dtype, out);
  const rows = size / keys;
  const g = numeric(grad);
  const p = numeric(probs);
  const gRows = rowOffsets(g, rows);
  const pRows = rowOffsets(p, rows);
  const gStep = g.strides[rank - 1]!;
  const pStep = p.strides[rank - 1]!;
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < keys; j++) dot += g.data[gRows[r]! + j * gStep]! * p.data[pRows[r]! + j * pStep]!;
    const base = r * keys;
    for (let j = 0; j < keys; j++) {
      const pj = p.data[pRows[r]! + j * pStep]!;
      out[base + j] = scale * pj * (g.data[gRows[r]! + j * gStep]! - dot);
    }
  }
  return finish(probs.dtype, out);
}
