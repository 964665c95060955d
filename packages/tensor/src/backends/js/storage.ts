import { decodeBFloat16, decodeFloat16, encodeBFloat16, encodeFloat16 } from '@lorakit/safetensors';
import type { View } from '../../backend/kernels.js';
import type { Dtype, HostArray } from '../../dtype.js';
import { DtypeError } from '../../errors.js';

/**
 * How the JS backend stores each dtype: float32 → Float32Array, float64 → Float64Array,
 * float16/bfloat16 → Uint16Array (bit patterns), int32 → Int32Array, int64 → Float64Array (exact for
 * |v| ≤ 2⁵³, which token ids and indices never exceed), bool → Uint8Array (0/1).
 */
export type JsStorage = Float32Array | Float64Array | Uint16Array | Int32Array | Uint8Array;

/** Arrays kernels compute on: the storage itself, or a float32 decoding of a 16-bit float storage. */
export type NumericArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface NumericView {
  readonly data: NumericArray;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * A fresh, zero-filled storage of `size` elements in the JavaScript backend's layout for `dtype`
 * (int64 in a Float64Array, 16-bit floats as raw Uint16Array bits, bool as Uint8Array). Native backends
 * that share this layout allocate with it too.
 */
export function allocate(dtype: Dtype, size: number): JsStorage {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
    case 'int64':
      return new Float64Array(size);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** A numeric array to compute results of `dtype` into (float32 for the 16-bit float types). */
export function allocateNumeric(dtype: Dtype, size: number): NumericArray {
  return dtype === 'float16' || dtype === 'bfloat16'
    ? new Float32Array(size)
    : (allocate(dtype, size) as NumericArray);
}

/** Turns a computed numeric array into the storage of `dtype` (encodes 16-bit floats). */
export function finish(dtype: Dtype, values: NumericArray): JsStorage {
  if (dtype === 'float16') return encodeFloat16(values);
  if (dtype === 'bfloat16') return encodeBFloat16(values);
  return values;
}

const decoded = new WeakMap<Uint16Array, Float32Array>();

/** The numeric form of a view (16-bit float storages are decoded once and cached per storage). */
export function numeric(view: View): NumericView {
  const storage = view.storage as JsStorage;
  let data: NumericArray;
  if (storage instanceof Uint16Array) {
    let cached = decoded.get(storage);
    if (!cached) {
      cached = view.dtype === 'float16' ? decodeFloat16(storage) : decodeBFloat16(storage);
      decoded.set(storage, cached);
    }
    data = cached;
  } else {
    data = storage;
  }
  return { data, shape: view.shape, strides: view.strides, offset: view.offset };
}

/** Drops the decoded cache of a 16-bit storage after it was written in place. */
export function invalidate(storage: JsStorage): void {
  if (storage instanceof Uint16Array) decoded.delete(storage);
}

/** Value conversion for casts: float → int truncates toward zero, anything → bool is `!= 0`. */
export function converter(dtype: Dtype): ((v: number) => number) | undefined {
  switch (dtype) {
    case 'int64':
      return Math.trunc;
    case 'bool':
      return (v) => (v !== 0 ? 1 : 0);
    default:
      return undefined;
  }
}

const INT64_LIMIT = 2 ** 53;

export function fromHostArray(data: HostArray, dtype: Dtype): JsStorage {
  const size = data.length;
  if (data instanceof BigInt64Array) {
    const out = allocate(dtype, size);
    for (let i = 0; i < size; i++) {
      const v = data[i]!;
      if (v > BigInt(INT64_LIMIT) || v < -BigInt(INT64_LIMIT)) {
        throw new DtypeError(
          `[js backend] int64 value ${v} exceeds ±2^53, which the JS backend stores exactly`,
        );
      }
      (out as Float64Array)[i] = Number(v);
    }
    return out;
  }
  if (dtype === 'float16') return encodeFloat16(data as ArrayLike<number>);
  if (dtype === 'bfloat16') return encodeBFloat16(data as ArrayLike<number>);
  const out = allocate(dtype, size) as NumericArray;
  const convert = converter(dtype);
  if (convert) for (let i = 0; i < size; i++) out[i] = convert(data[i] as number);
  else out.set(data as ArrayLike<number>);
  return out;
}

/** Host array of a contiguous numeric array holding values of `dtype`. */
export function toHostArray(values: NumericArray, dtype: Dtype): HostArray {
  switch (dtype) {
    case 'int64':
      return BigInt64Array.from(values as Float64Array, (v) => BigInt(v));
    case 'float16':
    case 'bfloat16':
    case 'float32':
      return values instanceof Float32Array ? values : Float32Array.from(values);
    default:
      return values as HostArray;
  }
}
