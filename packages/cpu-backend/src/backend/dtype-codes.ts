/**
 * The dtypes the native kernels handle and their codes (native/dtype.h): the JavaScript backend's storage
 * types, which the cpu backend shares. float16 and bfloat16 (Uint16Array bit patterns) have no code:
 * every kernel hands them to the JavaScript backend.
 */
import { allocateJsStorage, type Dtype, type JsStorage } from '@lorakit/tensor';

const CODES: Partial<Record<Dtype, number>> = {
  float32: 0,
  float64: 1,
  int32: 2,
  int64: 3,
  bool: 4,
};

/** The native code of a dtype, or undefined for the 16-bit float types. */
export function dtypeCode(dtype: Dtype): number | undefined {
  return CODES[dtype];
}

/** A fresh, zero-filled storage of `size` elements, as the JavaScript backend allocates it. */
export const allocate: (dtype: Dtype, size: number) => JsStorage = allocateJsStorage;

const STORAGE: Record<Dtype, new (size: number) => JsStorage> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int32: Int32Array,
  bool: Uint8Array,
};

/** Whether `storage` is the typed array the JavaScript backend uses for `dtype`. */
export function holds(storage: unknown, dtype: Dtype): storage is JsStorage {
  return storage instanceof STORAGE[dtype];
}
