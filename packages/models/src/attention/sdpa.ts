import {
  scaledDotProductAttention as attention,
  dropout,
  type Generator,
  type Tensor,
} from '@lorakit/tensor';
import { ModelError } from '../errors.js';
import type { AttentionBias } from './masks.js';

export interface AttentionOptions {
  readonly mask: AttentionBias;
  /** Multiplies q·kᵀ (usually 1/√headDim). */
  readonly scale: number;
  /** Dropout on the attention probabilities, applied only when `training`. */
  readonly dropout?: number;
  readonly training?: boolean;
  readonly generator?: Generator;
  /** Gemma 2's attention soft-capping: scores become cap·tanh(scores / cap) before the mask. */
  readonly softcap?: number | null;
}

/**
 * softmax(q·kᵀ·scale + bias)·v for q [B, H, T, D] and k, v [B, KVH, S, D] with H a multiple of KVH
 * (grouped-query attention: query head h reads key/value head ⌊h / (H/KVH)⌋).
 *
 * Instead of repeating k and v H/KVH times (transformers' `repeat_kv`, a copy), the query heads of a group
 * are stacked along the sequence: q becomes [B, KVH, (H/KVH)·T, D], one matmul per group against the
 * shared keys. Nothing is copied when q is contiguous. Returns [B, H, T, D].
 *
 * Without left-padded rows, attention dropout or soft-capping this is @lorakit/tensor's `scaledDotProductAttention`:
 * one recorded op whose softmax scales, masks and normalizes in one pass (natively on the cpu backend)
 * and whose backward needs no intermediate but the probabilities. On a backend with a flash attention
 * kernel (cuda), padding masks and sliding windows also go there, described by rule (`mask.flash`).
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
): Tensor {
  const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1]!;
  const keys = k.shape[2]!;
  if (heads % kvHeads !== 0) {
    throw new ModelError(`[attention] ${heads} query heads cannot share ${kvHeads} key/value heads`);
  }
  const groups = heads / kvHeads;
  const { bias, rowScale, causal } = options.mask;
  const softcap = options.softcap ?? null;
  const dropping = options.training && options.dropout;
  const flash = options.mask.flash;
  if (flash && q.backend.flashAttention && !dropping && softcap === null) {
    // The backend's flash attention takes padding and windows by rule: no bias tensor, and rows left
    // with no key come out 0 as with rowScale.
    return attention(q, k, v, { scale: options.scale, ...flash });
  }
  if (!rowScale && !dropping && softcap === null) {
    // One recorded op with a fused softmax (and the causal limit applied directly when the bias is just
    // the causal mask); the composition below handles left-padded rows and attention dropout.
    return attention(q, k, v, { scale: options.scale, bias: causal ? null : bias, causal: causal ?? false });
  }
  // The scale multiplies q [.., T, D] rather than the scores [.., T, S]: S/D times fewer elements, forward
  // and backward (PyTorch's math SDPA scales the operands too).
  const scaled = q.mul(options.scale);
  let scores: Tensor;
  if (groups === 1) {
    scores = capped(scaled.matmul(k.transpose(-2, -1)), softcap);
    if (bias) scores = scores.add(bias);
  } else {
    const stacked = scaled.reshape(batch, kvHeads, groups * queries, headDim);
    scores = capped(stacked.matmul(k.transpose(-2, -1)), softcap);
    scores = scores.reshape(batch, kvHeads, groups, queries, keys);
    if (bias) scores = scores.add(bias.unsqueeze(2));
  }
  let probs = scores.softmax(-1);
  if (rowScale) probs = probs.mul(groups === 1 ? rowScale : rowScale.unsqueeze(2));
  if (options.training && options.dropout) {
    probs = dropout(probs, options.dropout, true, options.generator);
  }
  if (groups === 1) return probs.matmul(v);
  const out = probs.reshape(batch, kvHeads, groups * queries, keys).matmul(v);
  return out.reshape(batch, heads, queries, headDim);
}

/** cap·tanh(x / cap) (identity without a cap). */
export function capped(x: Tensor, cap: number | null): Tensor {
  return cap === null ? x : x.div(cap).tanh().mul(cap);
}
