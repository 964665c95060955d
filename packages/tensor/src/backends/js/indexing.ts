import type { View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { allocateNumeric, finish, type JsStorage, numeric } from './storage.js';
import { forEachRow, rowMajor } from './strided.js';

/** Visits every element of `shape` in logical order with its multi-index (small ops only). */
function forEachIndex(shape: readonly number[], visit: (index: number[], flat: number) => void): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size === 0) return;
  const index = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < size; flat++) {
    visit(index, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
}

function offsetOf(
  index: readonly number[],
  strides: readonly number[],
  base: number,
  axis: number,
  replace: number,
): number {
  let o = base;
  for (let d = 0; d < index.length; d++) o += (d === axis ? replace : index[d]!) * strides[d]!;
  return o;
}

export function gather(x: View, axis: number, index: View): JsStorage {
  const input = numeric(x);
  const idx = numeric(index);
  const size = index.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(x.dtype, size);
  forEachIndex(index.shape, (position, flat) => {
    const at = idx.data[offsetOf(position, idx.strides, idx.offset, -1, 0)]!;
    out[flat] = input.data[offsetOf(position, input.strides, input.offset, axis, at)]!;
  });
  return finish(x.dtype, out);
}

export function scatterAdd(
  shape: readonly number[],
  dtype: Dtype,
  axis: number,
  index: View,
  src: View,
): JsStorage {
  const idx = numeric(index);
  const values = numeric(src);
  const out = allocateNumeric(
    dtype,
    shape.reduce((a, b) => a * b, 1),
  );
  const strides = rowMajor(shape);
  forEachIndex(index.shape, (position) => {
    const at = idx.data[offsetOf(position, idx.strides, idx.offset, -1, 0)]!;
    const target = offsetOf(position, strides, 0, axis, at);
    out[target] = out[target]! + values.data[offsetOf(position, values.strides, values.offset, -1, 0)]!;
  });
  return finish(dtype, out);
}

/** scatterAdd into `dst`'s own memory (float32/float64 storages only; the op checks). */
export function scatterAddInPlace(dst: View, axis: number, index: View, src: View): void {
  const out = dst.storage as Float32Array | Float64Array;
  const idx = numeric(index);
  const values = numeric(src);
  forEachIndex(index.shape, (position) => {
    const at = idx.data[offsetOf(position, idx.strides, idx.offset, -1, 0)]!;
    const target = offsetOf(position, dst.strides, dst.offset, axis, at);
    out[target] = out[target]! + values.data[offsetOf(position, values.strides, values.offset, -1, 0)]!;
  });
}

function picks(index: View): number[] {
  const idx = numeric(index);
  const n = index.shape[0]!;
  return Array.from({ length: n }, (_, i) => idx.data[idx.offset + i * idx.strides[0]!]!);
}

export function indexSelect(x: View, axis: number, index: View): JsStorage {
  const input = numeric(x);
  const rows = picks(index);
  const outShape = x.shape.map((d, i) => (i === axis ? rows.length : d));
  const out = allocateNumeric(
    x.dtype,
    outShape.reduce((a, b) => a * b, 1),
  );
  // Iterate the output; the axis coordinate maps through `rows`.
  const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const outerShape = x.shape.slice(0, axis);
  const innerShape = x.shape.slice(axis + 1);
  let o = 0;
  const copyRow = (base: number) => {
    if (innerShape.length === 0) {
      out[o++] = input.data[base]!;
      return;
    }
    forEachRow(innerShape, [input.strides.slice(axis + 1)], [base], ([start], length, [stride]) => {
      let i = start!;
      for (let j = 0; j < length; j++, i += stride!) out[o++] = input.data[i]!;
    });
  };
  const visitOuter = (base: number) => {
    for (const row of rows) copyRow(base + row * input.strides[axis]!);
  };
  if (outer === 1 && outerShape.length === 0) visitOuter(input.offset);
  else
    forEachRow(outerShape, [input.strides.slice(0, axis)], [input.offset], ([start], length, [stride]) => {
      for (let j = 0; j < length; j++) visitOuter(start! + j * stride!);
    });
  return finish(x.dtype, out);
}

export function indexAdd(
  shape: readonly number[],
  dtype: Dtype,
  axis: number,
  index: View,
  src: View,
): JsStorage {
  const values = numeric(src);
  const rows = picks(index);
  const out = allocateNumeric(
    dtype,
    shape.reduce((a, b) => a * b, 1),
  );
  const strides = rowMajor(shape);
  forEachIndex(src.shape, (position) => {
    const target = offsetOf(position, strides, 0, axis, rows[position[axis]!]!);
    out[target] = out[target]! + values.data[offsetOf(position, values.strides, values.offset, -1, 0)]!;
  });
  return finish(dtype, out);
}

/** Stable sort of each line along `axis`; NaN compares larger than every number. */
export function sort(x: View, axis: number, descending: boolean): { values: JsStorage; indices: JsStorage } {
  const input = numeric(x);
  const shape = x.shape;
  const n = shape[axis]!;
  const size = shape.reduce((a, b) => a * b, 1);
  const values = allocateNumeric(x.dtype, size);
  const indices = new Float64Array(size);
  const outStrides = rowMajor(shape);
  const outerShape = shape.filter((_, i) => i !== axis);
  const order = Array.from({ length: n }, (_, i) => i);
  const line = new Float64Array(n);
  const compare = (p: number, q: number) => {
    const a = line[p]!;
    const b = line[q]!;
    const an = Number.isNaN(a);
    const bn = Number.isNaN(b);
    let c = an || bn ? (an ? (bn ? 0 : 1) : -1) : a < b ? -1 : a > b ? 1 : 0;
    if (descending) c = -c;
    return c;
  };
  forEachIndex(outerShape, (position) => {
    let base = input.offset;
    let outBase = 0;
    for (let d = 0, k = 0; d < shape.length; d++) {
      if (d === axis) continue;
      base += position[k]! * input.strides[d]!;
      outBase += position[k]! * outStrides[d]!;
      k++;
    }
    for (let j = 0; j < n; j++) {
      line[j] = input.data[base + j * input.strides[axis]!]!;
      order[j] = j;
    }
    order.sort(compare);
    for (let j = 0; j < n; j++) {
      values[outBase + j * outStrides[axis]!] = line[order[j]!]!;
      indices[outBase + j * outStrides[axis]!] = order[j]!;
    }
  });
  return { values: finish(x.dtype, values), indices };
}
