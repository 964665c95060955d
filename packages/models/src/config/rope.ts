import type { ConfigFields } from './fields.js';

/** Rotary position embedding settings, normalized from either config form. */
export type RopeConfig =
  | { readonly type: 'default'; readonly theta: number }
  | { readonly type: 'linear'; readonly theta: number; readonly factor: number }
  | {
      readonly type: 'llama3';
      readonly theta: number;
      readonly factor: number;
      readonly lowFreqFactor: number;
      readonly highFreqFactor: number;
      readonly originalMaxPositionEmbeddings: number;
    }
  | {
      /** Phi-3's LongRoPE ("su" in older configs): per-frequency factors, short or long by length. */
      readonly type: 'longrope';
      readonly theta: number;
      readonly shortFactor: readonly number[];
      readonly longFactor: readonly number[];
      readonly originalMaxPositionEmbeddings: number;
      /** Multiplies cos and sin: `attention_factor`, else √(1 + ln(factor) / ln(original context)). */
      readonly attentionFactor: number;
    };

export const ROPE_TYPES = ['default', 'linear', 'llama3', 'longrope'] as const;

export interface ParseRopeOptions {
  /** Whether `partial_rotary_factor` may differ from 1 (the family rotates part of each head). */
  readonly partialRotary?: boolean;
  /** Whether the family implements LongRoPE (its switch between short and long factors). */
  readonly longrope?: boolean;
}

const DEFAULT_THETA = 10_000;

/**
 * Reads RoPE settings the way transformers 5 standardizes them: the parameters come from
 * `rope_scaling` (older configs) or `rope_parameters` (newer ones); `rope_theta` inside that object wins,
 * else the top-level `rope_theta`, else 10000; the type is `rope_type` (or the older `type`), default
 * "default"; llama3's `original_max_position_embeddings` defaults to `max_position_embeddings`.
 */
export function parseRope(
  fields: ConfigFields,
  maxPositionEmbeddings: number,
  options: ParseRopeOptions = {},
): RopeConfig {
  const parameters = fields.object('rope_scaling') ?? fields.object('rope_parameters') ?? {};
  const where = fields.has('rope_scaling') ? 'rope_scaling' : 'rope_parameters';
  const topTheta = fields.number('rope_theta', DEFAULT_THETA, { min: Number.MIN_VALUE });
  const read = (key: string, fallback?: number): number => {
    const value = parameters[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      fields.invalid(
        `${where}.${key} must be a finite number${value === undefined ? ' (required for this rope_type)' : `, received ${JSON.stringify(value)}`}`,
      );
    }
    return value;
  };
  const theta = read('rope_theta', topTheta);
  if (theta <= 0) fields.invalid(`rope_theta must be positive, received ${theta}`);
  const given = parameters.rope_type ?? parameters.type ?? 'default';
  const type = given === 'su' ? 'longrope' : given;
  const supported = ROPE_TYPES.filter((t) => t !== 'longrope' || options.longrope);
  if (typeof type !== 'string' || !(supported as readonly string[]).includes(type)) {
    fields.invalid(
      `${where}.rope_type ${JSON.stringify(given)} is not supported; supported: ${supported.join(', ')}`,
    );
  }
  const partial = parameters.partial_rotary_factor ?? fields.raw.partial_rotary_factor;
  if (!options.partialRotary && partial !== undefined && partial !== null && partial !== 1) {
    fields.invalid(`partial_rotary_factor ${JSON.stringify(partial)} is not supported (only 1)`);
  }
  if (type === 'default') return { type, theta };
  if (type === 'longrope') return parseLongrope(fields, parameters, where, theta, maxPositionEmbeddings);
  const factor = read('factor');
  if (factor < 1) fields.invalid(`${where}.factor must be ≥ 1, received ${factor}`);
  if (type === 'linear') return { type, theta, factor };
  const lowFreqFactor = read('low_freq_factor');
  const highFreqFactor = read('high_freq_factor');
  if (!(highFreqFactor > lowFreqFactor)) {
    fields.invalid(
      `${where}.high_freq_factor (${highFreqFactor}) must be greater than low_freq_factor (${lowFreqFactor})`,
    );
  }
  const originalMaxPositionEmbeddings = read('original_max_position_embeddings', maxPositionEmbeddings);
  return { type: 'llama3', theta, factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings };
}

function parseLongrope(
  fields: ConfigFields,
  parameters: Record<string, unknown>,
  where: string,
  theta: number,
  maxPositionEmbeddings: number,
): RopeConfig {
  const list = (key: string): number[] => {
    const value = parameters[key];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'number' && v > 0)) {
      fields.invalid(`${where}.${key} must be a list of positive numbers, received ${JSON.stringify(value)}`);
    }
    return value as number[];
  };
  const shortFactor = list('short_factor');
  const longFactor = list('long_factor');
  // Phi-3 keeps the pretrained context in a top-level field and derives the factor from the ratio.
  const original =
    parameters.original_max_position_embeddings ??
    fields.raw.original_max_position_embeddings ??
    maxPositionEmbeddings;
  if (typeof original !== 'number' || !Number.isInteger(original) || original < 1) {
    fields.invalid(
      `original_max_position_embeddings must be a positive integer, received ${JSON.stringify(original)}`,
    );
  }
  const factor = typeof parameters.factor === 'number' ? parameters.factor : maxPositionEmbeddings / original;
  const givenAttention = parameters.attention_factor;
  const attentionFactor =
    typeof givenAttention === 'number'
      ? givenAttention
      : factor <= 1
        ? 1
        : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  return {
    type: 'longrope',
    theta,
    shortFactor,
    longFactor,
    originalMaxPositionEmbeddings: original,
    attentionFactor,
  };
}

/**
 * LongRoPE's inverse frequencies 1 / (factor_i · base^(2i/d)) in float32, with the long factors when the
 * sequence is longer than the original context (transformers' `longrope_frequency_update`).
 */
export function longropeInverseFrequencies(
  rope: Extract<RopeConfig, { type: 'longrope' }>,
  dim: number,
  long: boolean,
): Float32Array {
  const f = Math.fround;
  const factors = long ? rope.longFactor : rope.shortFactor;
  const half = Math.floor((dim + 1) / 2);
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(f(factors[i]!) * f(rope.theta ** f((2 * i) / dim))));
  return inv;
}

/**
 * The inverse frequencies θ_i = base^(−2i/d), i < d/2, rounded to float32 at each step as PyTorch computes
 * them, then scaled by the rope type: `linear` divides all by the factor; `llama3` (Llama 3.1) divides the
 * low frequencies (wavelength > original_context / low_freq_factor) by the factor, keeps the high ones
 * (wavelength < original_context / high_freq_factor) and interpolates smoothly in between.
 */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  const f = Math.fround;
  const half = Math.floor((headDim + 1) / 2);
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = f(1 / f(rope.theta ** f((2 * i) / headDim)));
  if (rope.type === 'linear') return inv.map((v) => f(v / rope.factor));
  if (rope.type === 'longrope') return longropeInverseFrequencies(rope, headDim, false);
  if (rope.type !== 'llama3') return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: context } = rope;
  const lowFreqWavelength = context / lowFreqFactor;
  const highFreqWavelength = context / highFreqFactor;
  return inv.map((v) => {
    const wavelength = f((2 * Math.PI) / v);
    const scaled = wavelength > lowFreqWavelength ? f(v / factor) : v;
    if (wavelength < highFreqWavelength || wavelength > lowFreqWavelength) return scaled;
    const smooth = f((f(context / wavelength) - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
    return f(f(f(1 - smooth) * f(scaled / factor)) + f(smooth * scaled));
  });
}
