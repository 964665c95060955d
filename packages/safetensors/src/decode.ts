import { DTYPE_SIZE, type Dtype, RAW_ARRAY, type RawArray, shapeSize } from './dtypes.js';
import { SafetensorsRangeError } from './errors.js';
import { decodeBFloat16, decodeFloat8E4M3, decodeFloat8E5M2, decodeFloat16 } from './float-codecs.js';

/** Typed arrays a read can return. */
export type TensorArray = RawArray;

export interface ReadOptions {
  /**
   * `false` (default): floats narrower than 32 bits are decoded to `Float32Array` (F64 stays
   * `Float64Array`). `true`: the stored bit patterns in their natural typed array (`Uint16Array` for
   * F16/BF16, `Uint8Array` for F8 and BOOL).
   */
  readonly raw?: boolean;
  /**
   * How I64/U64 come back: `'bigint'` (default, `BigInt64Array`/`BigUint64Array`) or `'int32'`
   * (`Int32Array`, throwing {@link SafetensorsRangeError} if a value does not fit). Token ids use
   * `'int32'`.
   */
  readonly int64?: 'bigint' | 'int32';
}

export interface TensorData<A extends TensorArray = TensorArray> {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: A;
}

/**
 * Turns a tensor's stored little-endian bytes into a typed array. The bytes may sit at any offset: a
 * typed-array view needs an offset aligned to the element size, so unaligned bytes are copied first.
 */
export function decodeTensorBytes(
  name: string,
  dtype: Dtype,
  shape: readonly number[],
  bytes: Uint8Array,
  options: ReadOptions = {},
): TensorData {
  const size = DTYPE_SIZE[dtype];
  const count = shapeSize(shape);
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const raw = new RAW_ARRAY[dtype](aligned.buffer, aligned.byteOffset, count);
  return { name, dtype, shape, data: options.raw ? raw : decodeRaw(name, dtype, raw, options) };
}

function decodeRaw(name: string, dtype: Dtype, raw: RawArray, options: ReadOptions): TensorArray {
  switch (dtype) {
    case 'F16':
      return decodeFloat16(raw as Uint16Array);
    case 'BF16':
      return decodeBFloat16(raw as Uint16Array);
    case 'F8_E4M3':
      return decodeFloat8E4M3(raw as Uint8Array);
    case 'F8_E5M2':
      return decodeFloat8E5M2(raw as Uint8Array);
    case 'I64':
    case 'U64':
      return options.int64 === 'int32' ? toInt32(name, raw as BigInt64Array | BigUint64Array) : raw;
    default:
      return raw;
  }
}

function toInt32(name: string, values: BigInt64Array | BigUint64Array): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v > 2147483647n || v < -2147483648n) {
      throw new SafetensorsRangeError(
        `[safetensors] tensor "${name}" element ${i} is ${v}, outside the int32 range [-2147483648, 2147483647]; read it with { int64: 'bigint' }`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}
