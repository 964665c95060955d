/**
 * Reductions (sum, prod, max, min over any set of axes), argmax/argmin and softmax/log-softmax on the
 * native layer. The kept dims and the reduced dims are merged separately, so a reduction over the last
 * axis reads contiguous rows and one over the leading axes adds contiguous runs of columns.
 */
import type { Backend, Dtype, JsStorage, ReduceOp, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { dtypeCode } from './dtype-codes.js';
import { checkView, packLayout, rowMajor, sizeOf } from './layout.js';
import type { OpCodes } from './op-codes.js';

type Reductions = Pick<Backend<JsStorage>, 'reduce' | 'argReduce' | 'softmax'>;

const pick = <T>(values: readonly T[], indices: readonly number[]) => indices.map((i) => values[i]!);

export function reductionKernels(native: NativeBinding, js: Backend<JsStorage>, codes: OpCodes): Reductions {
  function reduce(op: ReduceOp, x: View<JsStorage>, axes: readonly number[], outDtype: Dtype): JsStorage {
    const opCode = codes.reduce.get(op);
    const xCode = dtypeCode(x.dtype);
    const outCode = dtypeCode(outDtype);
    if (opCode === undefined || xCode === undefined || outCode === undefined) {
      return js.reduce(op, x, axes, outDtype);
    }
    const keptAxes = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const keptShape = pick(x.shape, keptAxes);
    const out = allocateOutput(outDtype, sizeOf(keptShape));
    if (out.length === 0) return out;
    if (sizeOf(x.shape) > 0) checkView(op, x);
    const kept = packLayout(keptShape, [pick(x.strides, keptAxes)], [x.offset]);
    const reduced = packLayout(pick(x.shape, axes), [pick(x.strides, axes)], [0]);
    if (!kept || !reduced) return js.reduce(op, x, axes, outDtype);
    native.reduce(opCode, kept, reduced, out, outCode, x.storage, xCode);
    return out;
  }

  function argReduce(op: 'argmax' | 'argmin', x: View<JsStorage>, axis: number): JsStorage {
    const xCode = dtypeCode(x.dtype);
    if (xCode === undefined) return js.argReduce(op, x, axis);
    const n = x.shape[axis]!;
    const others = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const size = sizeOf(pick(x.shape, others));
    if (size === 0 || n === 0) return new Float64Array(size);
    const out = allocateOutput('int64', size) as Float64Array;
    checkView(op, x);
    const outer = packLayout(pick(x.shape, others), [pick(x.strides, others)], [x.offset]);
    if (!outer) return js.argReduce(op, x, axis);
    native.argReduce(op === 'argmax', outer, n, x.strides[axis]!, out, x.storage, xCode);
    return out;
  }

  function softmax(x: View<JsStorage>, axis: number, log: boolean): JsStorage {
    if (x.dtype !== 'float32' && x.dtype !== 'float64') return js.softmax(x, axis, log);
    const size = sizeOf(x.shape);
    const out = allocateOutput(x.dtype, size);
    if (size === 0) return out;
    checkView(log ? 'logSoftmax' : 'softmax', x);
    const outStrides = rowMajor(x.shape);
    const others = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const outer = packLayout(
      pick(x.shape, others),
      [pick(outStrides, others), pick(x.strides, others)],
      [0, x.offset],
    );
    if (!outer) return js.softmax(x, axis, log);
    native.softmax(
      outer,
      x.shape[axis]!,
      outStrides[axis]!,
      x.strides[axis]!,
      out,
      x.storage,
      dtypeCode(x.dtype)!,
      log,
    );
    return out;
  }

  return { reduce, argReduce, softmax };
}
