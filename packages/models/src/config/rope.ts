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
    };

export const ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

const DEFAULT_THETA = 10_000;

/**
 * Reads RoPE settings the way transformers 5 standardizes them: the parameters come from
 * `rope_scaling` (older configs) or `rope_parameters` (newer ones); `rope_theta` inside that object wins,
 * else the top-level `rope_theta`, else 10000; the type is `rope_type` (or the older `type`), default
 * "default"; llama3's `original_max_position_embeddings` defaults to `max_position_embeddings`.
 */
export function parseRope(fields: ConfigFields, maxPositionEmbeddings: number): RopeConfig {
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
  const type = parameters.rope_type ?? parameters.type ?? 'default';
  if (typeof type !== 'string' || !(ROPE_TYPES as readonly string[]).includes(type)) {
    fields.invalid(
      `${where}.rope_type ${JSON.stringify(type)} is not supported; supported: ${ROPE_TYPES.join(', ')}`,
    );
  }
  const partial = parameters.partial_rotary_factor ?? fields.raw.partial_rotary_factor;
  if (partial !== undefined && partial !== null && partial !== 1) {
    fields.invalid(`partial_rotary_factor ${JSON.stringify(partial)} is not supported (only 1)`);
  }
  if (type === 'default') return { type, theta };
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
