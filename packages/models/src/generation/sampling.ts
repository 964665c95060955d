import { GenerationError } from '../errors.js';

export interface SamplingOptions {
  /** Divides the logits (default 1). */
  readonly temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th kept). */
  readonly topK?: number;
  /** Keep the most likely tokens whose probabilities sum to at least p (nucleus sampling). */
  readonly topP?: number;
}

/** Throws on options outside their domain; returns them with defaults applied. */
export function checkSamplingOptions(options: SamplingOptions, vocab: number): Required<SamplingOptions> {
  const temperature = options.temperature ?? 1;
  const topK = options.topK ?? 0;
  const topP = options.topP ?? 1;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new GenerationError(`[generate] temperature must be a positive number, received ${temperature}`);
  }
  if (!Number.isInteger(topK) || topK < 0) {
    throw new GenerationError(`[generate] topK must be a non-negative integer (0 = off), received ${topK}`);
  }
  if (!(topP > 0 && topP <= 1))
    throw new GenerationError(`[generate] topP must be in (0, 1], received ${topP}`);
  return { temperature, topK: Math.min(topK, vocab), topP };
}

/**
 * Filters one row of logits in place the way transformers' warpers do, in their order: temperature, then
 * top-k (values below the k-th largest become −∞), then top-p (sorting ascending, the tokens whose
 * cumulative probability stays ≤ 1 − p are removed; the most likely token always stays).
 */
export function warpLogits(row: Float64Array, options: Required<SamplingOptions>): void {
  const { temperature, topK, topP } = options;
  if (temperature !== 1) for (let i = 0; i < row.length; i++) row[i]! /= temperature;
  if (topK > 0 && topK < row.length) {
    const kth = [...row].sort((a, b) => b - a)[topK - 1]!;
    for (let i = 0; i < row.length; i++) if (row[i]! < kth) row[i] = Number.NEGATIVE_INFINITY;
  }
  if (topP < 1) {
    const order = Array.from(row.keys()).sort((a, b) => row[a]! - row[b]! || a - b);
    const probabilities = softmax(row);
    let cumulative = 0;
    for (let j = 0; j < order.length - 1; j++) {
      cumulative += probabilities[order[j]!]!;
      if (cumulative <= 1 - topP) row[order[j]!] = Number.NEGATIVE_INFINITY;
      else break;
    }
  }
}

export function softmax(row: Float64Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of row) if (v > max) max = v;
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < row.length; i++) out[i]! /= sum;
  return out;
}

/** The token whose cumulative probability first exceeds `uniform` ∈ [0, 1) (inverse-CDF sampling). */
export function sampleIndex(probabilities: Float64Array, uniform: number): number {
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < probabilities.length; i++) {
    if (probabilities[i]! <= 0) continue;
    last = i;
    cumulative += probabilities[i]!;
    if (uniform < cumulative) return i;
  }
  return last;
}
