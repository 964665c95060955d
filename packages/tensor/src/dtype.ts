import { DtypeError } from './errors.js';

/**
 * Element types. float32 is the compute type; float64 serves checks and accurate linear algebra;
 * float16/bfloat16 are storage types (ops compute in float32 and round back); int64 holds token ids.
 */
export type Dtype = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int32' | 'int64' | 'bool';

export const DTYPES: readonly Dtype[] = [
  'float32',
  'float64',
  'float16',
  'bfloat16',
  'int32',
  'int64',
  'bool',
];

/**
 * What host reads return for each dtype: float32/float16/bfloat16 → Float32Array, float64 →
 * Float64Array, int32 → Int32Array, int64 → BigInt64Array, bool → Uint8Array (0 or 1).
 */
export type HostArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export type FloatDtype = 'float32' | 'float64' | 'float16' | 'bfloat16';

export function isFloating(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

export function isIntegral(dtype: Dtype): boolean {
  return dtype === 'int32' || dtype === 'int64' || dtype === 'bool';
}

export function assertDtype(op: string, value: unknown): Dtype {
  if (typeof value !== 'string' || !(DTYPES as readonly string[]).includes(value)) {
    throw new DtypeError(
      `[${op}] unknown dtype ${JSON.stringify(value)}; valid dtypes: ${DTYPES.join(', ')}`,
    );
  }
  return value as Dtype;
}

const RANK: Readonly<Record<Dtype, number>> = {
  bool: 0,
  int32: 1,
  int64: 2,
  float16: 3,
  bfloat16: 3,
  float32: 4,
  float64: 5,
};

/** PyTorch's promotion for tensor–tensor ops: bool < int32 < int64 < f16/bf16 < f32 < f64; f16+bf16 → f32. */
export function promoteTypes(a: Dtype, b: Dtype): Dtype {
  if (a === b) return a;
  if ((a === 'float16' && b === 'bfloat16') || (a === 'bfloat16' && b === 'float16')) return 'float32';
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * The dtype a JS number takes next to a tensor of `dtype` (PyTorch's "weak" scalar rule: a number
 * never widens a float tensor; a fractional number makes an integer tensor float32).
 */
export function scalarDtypeFor(dtype: Dtype, value: number | boolean): Dtype {
  if (typeof value === 'boolean') return dtype;
  if (isFloating(dtype)) return dtype;
  if (!Number.isInteger(value)) return 'float32';
  return dtype === 'bool' ? 'int64' : dtype;
}

/** Bytes per element as stored on a device that stores each dtype natively. */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};
