/**
 * Strided layouts for the native kernels. Operands share one logical shape and each has its own strides
 * (0 on broadcast dims) and offset. Dims of size 1 are dropped and neighbouring dims that are contiguous
 * for every operand are merged, so the native walker's innermost row is as long as it can be; logical
 * (row-major) order is unchanged, which is what lets outputs stay contiguous.
 *
 * The packed form handed to the addon (native/tensor_binding.cc) is one Float64Array:
 *   [rank, operands, shape × rank, strides of operand 0 × rank, …, offset of each operand]
 */
import { BackendError, type View } from '@lorakit/tensor';
import { holds } from './dtype-codes.js';

/** The most dims a native layout can have after merging (native/strided.h). */
export const MAX_RANK = 16;

export interface Coalesced {
  readonly shape: number[];
  /** strides[k] are operand k's strides, one per dim. */
  readonly strides: number[][];
}

export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Coalesced {
  const dims: number[] = [];
  const out: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d]!;
    if (size === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => out[k]![last] === s[d]! * size)) {
      dims[last] = dims[last]! * size;
      for (let k = 0; k < strides.length; k++) out[k]![last] = strides[k]![d]!;
    } else {
      dims.push(size);
      for (let k = 0; k < strides.length; k++) out[k]!.push(strides[k]![d]!);
    }
  }
  return { shape: dims, strides: out };
}

/** Row-major strides of a shape. */
export function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) size *= d;
  return size;
}

/**
 * The packed layout of operands sharing `shape`, or undefined when it has more than MAX_RANK dims even
 * after merging (the caller then uses the JavaScript kernel).
 */
export function packLayout(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
): Float64Array | undefined {
  const merged = coalesce(shape, strides);
  const rank = merged.shape.length;
  if (rank > MAX_RANK) return undefined;
  const operands = strides.length;
  const packed = new Float64Array(2 + rank * (1 + operands) + operands);
  packed[0] = rank;
  packed[1] = operands;
  let p = 2;
  for (const d of merged.shape) packed[p++] = d;
  for (const s of merged.strides) for (const v of s) packed[p++] = v;
  for (const o of offsets) packed[p++] = o;
  return packed;
}

/**
 * Checks that a view is one the native kernels may read: its storage is the typed array of its dtype
 * and every element it addresses lies inside it. Throws a BackendError otherwise — a wrong view would
 * read outside the buffer in C++, where the JavaScript backend would only see undefined.
 */
export function checkView(op: string, view: View): void {
  const storage = view.storage;
  if (!holds(storage, view.dtype)) {
    const kind = (storage as object | null)?.constructor?.name ?? typeof storage;
    throw new BackendError(
      `[cpu backend] ${op}: a ${view.dtype} view needs the storage the js backend uses for it, received a ${kind}`,
    );
  }
  let low = view.offset;
  let high = view.offset;
  for (let d = 0; d < view.shape.length; d++) {
    const size = view.shape[d]!;
    if (size === 0) return;
    const reach = (size - 1) * view.strides[d]!;
    if (reach < 0) low += reach;
    else high += reach;
  }
  if (low < 0 || high >= storage.length || !Number.isInteger(low) || !Number.isInteger(high)) {
    throw new BackendError(
      `[cpu backend] ${op}: a view of shape [${view.shape.join(', ')}] with strides [${view.strides.join(', ')}] at offset ${view.offset} addresses elements ${low} to ${high}, but its storage has ${storage.length}`,
    );
  }
}
