/**
 * Device storages: a pointer into the caching allocator and its size. `dispose` (and `tidy`) give the
 * block back at once; a storage that is garbage-collected without being disposed gives it back through a
 * FinalizationRegistry. Every dtype is stored natively: float16/bfloat16 as 16-bit words, int64 as 64-bit
 * integers, bool as bytes.
 */
import type { Dtype, HostArray, View } from '@lorakit/tensor';
import { DtypeError } from '@lorakit/tensor';
import type { Device } from '../device.js';

export class CudaStorage {
  constructor(
    public pointer: number,
    readonly bytes: number,
  ) {}
}

/** Codes of the dtypes in kernels/common.cuh. */
export const DTYPE_CODE: Readonly<Record<Dtype, number>> = {
  float32: 0,
  float64: 1,
  float16: 2,
  bfloat16: 3,
  int32: 4,
  int64: 5,
  bool: 6,
};

export const ELEMENT_BYTES: Readonly<Record<Dtype, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  int64: 8,
  bool: 1,
};

export class Memory {
  readonly #registry: FinalizationRegistry<number>;

  constructor(readonly device: Device) {
    this.#registry = new FinalizationRegistry((pointer) => device.native.free(pointer));
  }

  /** A fresh storage for `size` elements of `dtype` (contents undefined). */
  allocate(dtype: Dtype, size: number, op: string): CudaStorage {
    const bytes = Math.max(1, size * ELEMENT_BYTES[dtype]);
    const storage = new CudaStorage(this.device.alloc(bytes, op), bytes);
    this.#registry.register(storage, storage.pointer, storage);
    return storage;
  }

  /** A fresh storage of zeros. */
  zeros(dtype: Dtype, size: number, op: string): CudaStorage {
    const storage = this.allocate(dtype, size, op);
    this.device.native.fill8(storage.pointer, 0, size * ELEMENT_BYTES[dtype]);
    return storage;
  }

  dispose(storage: CudaStorage): void {
    if (storage.pointer === 0) return;
    this.#registry.unregister(storage);
    this.device.native.free(storage.pointer);
    storage.pointer = 0;
  }
}

/** The dtype whose layout a host array already has, so that it can be copied byte for byte. */
export function hostDtype(data: HostArray): Dtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'bool';
  throw new DtypeError(
    `[cuda fromHost] data must be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array, received ${Object.prototype.toString.call(data)}`,
  );
}

/** The host array type toHost returns for a dtype (16-bit floats come back as Float32Array). */
export function hostArrayFor(dtype: Dtype, size: number): HostArray {
  switch (dtype) {
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'int64':
      return new BigInt64Array(size);
    case 'bool':
      return new Uint8Array(size);
    default:
      return new Float32Array(size);
  }
}

/** The dtype toHost reads a view of `dtype` in (what `hostArrayFor` holds). */
export function readDtype(dtype: Dtype): Dtype {
  return dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype;
}

export type CudaView = View<CudaStorage>;
