import { SafetensorsFormatError } from './errors.js';

/** Every dtype the safetensors format defines that lorakit reads and writes. */
export const DTYPES = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'F8_E4M3',
  'F8_E5M2',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
] as const;

export type Dtype = (typeof DTYPES)[number];

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<Dtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/**
 * The rank of each dtype in the Rust `safetensors` crate's `Dtype` enum (its derived `Ord`).
 * The writer lays tensors out by this rank, descending, then by name — exactly what Python's
 * `safetensors.torch.save_file` does — so that files we write are byte-identical to theirs.
 */
export const DTYPE_ORDER: Readonly<Record<Dtype, number>> = {
  BOOL: 0,
  U8: 4,
  I8: 5,
  F8_E5M2: 6,
  F8_E4M3: 7,
  I16: 9,
  U16: 10,
  F16: 11,
  BF16: 12,
  I32: 13,
  U32: 14,
  F32: 15,
  F64: 16,
  I64: 17,
  U64: 18,
};

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

/** The dtype of a header entry; `describe` renders a bad value briefly (it may be hostile and huge). */
export function assertDtype(
  value: unknown,
  tensorName: string,
  source: string,
  describe: (value: unknown) => string = (v) => String(JSON.stringify(v)),
): Dtype {
  if (!isDtype(value)) {
    throw new SafetensorsFormatError(
      `[safetensors] ${source}: tensor ${describe(tensorName)} has unknown dtype ${describe(value)}; valid dtypes: ${DTYPES.join(', ')}`,
    );
  }
  return value;
}

/** The typed array that holds a dtype's stored bit patterns ("raw" reads). */
export type RawArray =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Uint8Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | BigUint64Array
  | Uint32Array;

type RawConstructor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): RawArray;
  BYTES_PER_ELEMENT: number;
};

export const RAW_ARRAY: Readonly<Record<Dtype, RawConstructor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** Number of elements of a shape (1 for a scalar `[]`). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
