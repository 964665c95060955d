import type { ReduceOp, View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { allocateNumeric, finish, type JsStorage, numeric } from './storage.js';
import { forEachRow } from './strided.js';

/**
 * Splits a view into kept dims (outer) and reduced dims (inner): each output element is the reduction
 * of one inner block. Sums accumulate in float64.
 */
export function reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: Dtype): JsStorage {
  const input = numeric(x);
  const keptDims = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = keptDims.map((i) => x.shape[i]!);
  const outSize = outShape.reduce((a, b) => a * b, 1);
  const innerShape = axes.map((i) => x.shape[i]!);
  const innerStrides = axes.map((i) => input.strides[i]!);
  const out = allocateNumeric(outDtype, outSize);
  const data = input.data;
  let o = 0;
  const reduceBlock = (base: number): number => {
    let acc =
      op === 'sum'
        ? 0
        : op === 'prod'
          ? 1
          : op === 'max'
            ? Number.NEGATIVE_INFINITY
            : Number.POSITIVE_INFINITY;
    let sawNaN = false;
    forEachRow(innerShape, [innerStrides], [base], ([start], length, [stride]) => {
      let i = start!;
      switch (op) {
        case 'sum':
          for (let j = 0; j < length; j++, i += stride!) acc += data[i]!;
          break;
        case 'prod':
          for (let j = 0; j < length; j++, i += stride!) acc *= data[i]!;
          break;
        case 'max':
          for (let j = 0; j < length; j++, i += stride!) {
            const v = data[i]!;
            if (v > acc) acc = v;
            else if (Number.isNaN(v)) sawNaN = true;
          }
          break;
        case 'min':
          for (let j = 0; j < length; j++, i += stride!) {
            const v = data[i]!;
            if (v < acc) acc = v;
            else if (Number.isNaN(v)) sawNaN = true;
          }
          break;
      }
    });
    return sawNaN ? Number.NaN : acc;
  };
  if (outShape.length === 0) {
    out[0] = reduceBlock(input.offset);
  } else {
    forEachRow(
      outShape,
      [keptDims.map((i) => input.strides[i]!)],
      [input.offset],
      ([start], length, [stride]) => {
        let base = start!;
        for (let j = 0; j < length; j++, base += stride!) out[o++] = reduceBlock(base);
      },
    );
  }
  return finish(outDtype, out);
}

/** Visits each 1-D line along `axis`: `line(base, outIndex)` with the element stride `input.strides[axis]`. */
function forEachLine(
  x: View,
  strides: readonly number[],
  offset: number,
  axis: number,
  line: (base: number, index: number) => void,
): void {
  const outerShape = x.shape.filter((_, i) => i !== axis);
  const outerStrides = strides.filter((_, i) => i !== axis);
  let index = 0;
  if (outerShape.length === 0) {
    line(offset, 0);
    return;
  }
  forEachRow(outerShape, [outerStrides], [offset], ([start], length, [stride]) => {
    let base = start!;
    for (let j = 0; j < length; j++, base += stride!) line(base, index++);
  });
}

export function argReduce(op: 'argmax' | 'argmin', x: View, axis: number): JsStorage {
  const input = numeric(x);
  const n = x.shape[axis]!;
  const step = input.strides[axis]!;
  const outSize = x.shape.reduce((a, b) => a * b, 1) / n;
  const out = new Float64Array(outSize);
  const data = input.data;
  forEachLine(x, input.strides, input.offset, axis, (base, index) => {
    let best = 0;
    let bestValue = data[base]!;
    if (!Number.isNaN(bestValue)) {
      for (let j = 1; j < n; j++) {
        const v = data[base + j * step]!;
        if (Number.isNaN(v)) {
          best = j;
          break;
        }
        if (op === 'argmax' ? v > bestValue : v < bestValue) {
          best = j;
          bestValue = v;
        }
      }
    }
    out[index] = best;
  });
  return out;
}

/** Softmax or log-softmax along `axis`, max-shifted, accumulating in float64. Output is contiguous. */
export function softmax(x: View, axis: number, log: boolean): JsStorage {
  const input = numeric(x);
  const n = x.shape[axis]!;
  const step = input.strides[axis]!;
  const size = x.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(x.dtype, size);
  // Output strides: contiguous, so the line for outer index k starts at (k's position) with stride outStep.
  const outStrides: number[] = [];
  let s = 1;
  for (let i = x.shape.length - 1; i >= 0; i--) {
    outStrides[i] = s;
    s *= x.shape[i]!;
  }
  const outStep = outStrides[axis]!;
  const data = input.data;
  const outerShape = x.shape.filter((_, i) => i !== axis);
  const outerIn = input.strides.filter((_, i) => i !== axis);
  const outerOut = outStrides.filter((_, i) => i !== axis);
  const runLine = (base: number, outBase: number) => {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      const v = data[base + j * step]!;
      if (v > max || Number.isNaN(v)) max = v;
    }
    if (max === Number.NEGATIVE_INFINITY) max = 0;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(data[base + j * step]! - max);
    if (log) {
      const logSum = Math.log(sum) + max;
      for (let j = 0; j < n; j++) out[outBase + j * outStep] = data[base + j * step]! - logSum;
    } else {
      for (let j = 0; j < n; j++) out[outBase + j * outStep] = Math.exp(data[base + j * step]! - max) / sum;
    }
  };
  if (outerShape.length === 0) runLine(input.offset, 0);
  else
    forEachRow(
      outerShape,
      [outerIn, outerOut],
      [input.offset, 0],
      ([start, outStart], length, [stride, outStride]) => {
        let base = start!;
        let outBase = outStart!;
        for (let j = 0; j < length; j++, base += stride!, outBase += outStride!) runLine(base, outBase);
      },
    );
  return finish(x.dtype, out);
}

export { forEachLine };
