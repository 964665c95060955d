/**
 * Packing kernel parameters. Every kernel takes one struct whose fields are all 8 bytes wide (see
 * kernels/common.cuh), so its bytes are a flat array of slots written in declaration order: integers and
 * pointers as little-endian 64-bit two's complement, reals as float64.
 */
import type { Dtype, View } from '@lorakit/tensor';
import { BackendError, coalesceLayout } from '@lorakit/tensor';
import type { CudaStorage } from './storage.js';
import { DTYPE_CODE } from './storage.js';

/** Dims a kernel addresses (MAXD in kernels/common.cuh). */
export const MAXD = 8;
const TWO_32 = 4294967296;

export class Params {
  readonly buffer = new ArrayBuffer(4096);
  readonly #u32 = new Uint32Array(this.buffer);
  readonly #f64 = new Float64Array(this.buffer);
  #slot = 0;

  /** Slots written since `begin()` (tests compare it with the kernel's struct). */
  get slots(): number {
    return this.#slot;
  }

  /** Starts a new parameter struct. */
  begin(): this {
    this.#slot = 0;
    return this;
  }

  /** A 64-bit integer (exact for |v| < 2⁵³), also used for device pointers. */
  int(value: number): this {
    const hi = Math.floor(value / TWO_32);
    const at = this.#slot++ * 2;
    this.#u32[at] = (value - hi * TWO_32) >>> 0;
    this.#u32[at + 1] = hi >>> 0;
    return this;
  }

  real(value: number): this {
    this.#f64[this.#slot++] = value;
    return this;
  }

  /** `count` integers, padded with zeros to `width` slots. */
  ints(values: readonly number[], width = MAXD): this {
    for (let i = 0; i < width; i++) this.int(values[i] ?? 0);
    return this;
  }

  /** A `Shape`: element count, rank, dims. */
  shape(dims: readonly number[]): this {
    return this.int(dims.reduce((a, b) => a * b, 1))
      .int(dims.length)
      .ints(dims);
  }

  /** An `Arg`: pointer, dtype code, offset, contiguity flag, strides. */
  arg(
    view: View<CudaStorage>,
    strides: readonly number[],
    dims: readonly number[],
    offset = view.offset,
  ): this {
    return this.int(view.storage.pointer)
      .int(DTYPE_CODE[view.dtype])
      .int(offset)
      .int(isRowMajor(dims, strides) ? 1 : 0)
      .ints(strides);
  }

  /** An `Arg` for a fresh contiguous buffer. */
  contiguousArg(pointer: number, dtype: Dtype, dims: readonly number[]): this {
    return this.int(pointer).int(DTYPE_CODE[dtype]).int(0).int(1).ints(rowMajor(dims));
  }
}

export function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Whether element i of `dims` sits at offset + i (dims of size 1 may have any stride). */
export function isRowMajor(dims: readonly number[], strides: readonly number[]): boolean {
  let expected = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    if (dims[d] !== 1 && strides[d] !== expected) return false;
    expected *= dims[d]!;
  }
  return true;
}

/** Drops dims of size 1 and merges neighbours contiguous for every operand (tensor's own helper). */
export const coalesce = coalesceLayout;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A kernel addresses at most MAXD dims; more (after coalescing) is refused with the shapes involved. */
export function assertRank(op: string, rank: number, shape: readonly number[]): void {
  if (rank > MAXD) {
    throw new BackendError(
      `[cuda ${op}] the CUDA kernels address at most ${MAXD} non-mergeable dims; received a view of shape [${shape.join(', ')}] that keeps ${rank} after merging (make it contiguous first)`,
    );
  }
}
