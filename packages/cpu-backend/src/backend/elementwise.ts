/**
 * Elementwise kernels, copies and host reads on the native layer: unary, binary and where over any
 * strided or broadcast views, copy (gather into logical order with a cast), assign (strided write with a
 * cast) and toHost. float16/bfloat16, and layouts with more than 16 dims after merging, run on the
 * JavaScript kernels, which read the same storage.
 */
import type { Backend, BinaryOp, Dtype, HostArray, JsStorage, UnaryOp, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput, escapeStorage } from './allocator.js';
import { dtypeCode } from './dtype-codes.js';
import { checkView, packLayout, rowMajor, sizeOf } from './layout.js';
import type { OpCodes } from './op-codes.js';

type Elementwise = Pick<Backend<JsStorage>, 'unary' | 'binary' | 'where' | 'copy' | 'assign' | 'toHost'>;

export function elementwiseKernels(
  native: NativeBinding,
  js: Backend<JsStorage>,
  codes: OpCodes,
): Elementwise {
  function unary(op: UnaryOp, x: View<JsStorage>, outDtype: Dtype, params?: readonly number[]): JsStorage {
    const opCode = codes.unary.get(op);
    const xCode = dtypeCode(x.dtype);
    const outCode = dtypeCode(outDtype);
    if (opCode === undefined || xCode === undefined || outCode === undefined) {
      return js.unary(op, x, outDtype, params);
    }
    const size = sizeOf(x.shape);
    const out = allocateOutput(outDtype, size);
    if (size === 0) return out;
    checkView(op, x);
    const layout = packLayout(x.shape, [rowMajor(x.shape), x.strides], [0, x.offset]);
    if (!layout) return js.unary(op, x, outDtype, params);
    native.unary(opCode, layout, out, outCode, x.storage, xCode, params?.[0] ?? 0, params?.[1] ?? 0);
    return out;
  }

  function binary(op: BinaryOp, a: View<JsStorage>, b: View<JsStorage>, outDtype: Dtype): JsStorage {
    const opCode = codes.binary.get(op);
    const aCode = dtypeCode(a.dtype);
    const bCode = dtypeCode(b.dtype);
    const outCode = dtypeCode(outDtype);
    if (opCode === undefined || aCode === undefined || bCode === undefined || outCode === undefined) {
      return js.binary(op, a, b, outDtype);
    }
    const size = sizeOf(a.shape);
    const out = allocateOutput(outDtype, size);
    if (size === 0) return out;
    checkView(op, a);
    checkView(op, b);
    const layout = packLayout(a.shape, [rowMajor(a.shape), a.strides, b.strides], [0, a.offset, b.offset]);
    if (!layout) return js.binary(op, a, b, outDtype);
    native.binary(opCode, layout, out, outCode, a.storage, aCode, b.storage, bCode);
    return out;
  }

  function where(
    condition: View<JsStorage>,
    a: View<JsStorage>,
    b: View<JsStorage>,
    outDtype: Dtype,
  ): JsStorage {
    const aCode = dtypeCode(a.dtype);
    const bCode = dtypeCode(b.dtype);
    const outCode = dtypeCode(outDtype);
    if (condition.dtype !== 'bool' || aCode === undefined || bCode === undefined || outCode === undefined) {
      return js.where(condition, a, b, outDtype);
    }
    const size = sizeOf(a.shape);
    const out = allocateOutput(outDtype, size);
    if (size === 0) return out;
    checkView('where', condition);
    checkView('where', a);
    checkView('where', b);
    const layout = packLayout(
      a.shape,
      [rowMajor(a.shape), condition.strides, a.strides, b.strides],
      [0, condition.offset, a.offset, b.offset],
    );
    if (!layout) return js.where(condition, a, b, outDtype);
    native.where(layout, out, outCode, condition.storage as Uint8Array, a.storage, aCode, b.storage, bCode);
    return out;
  }

  function copy(x: View<JsStorage>, dtype: Dtype): JsStorage {
    const xCode = dtypeCode(x.dtype);
    const outCode = dtypeCode(dtype);
    if (xCode === undefined || outCode === undefined) return js.copy(x, dtype);
    const size = sizeOf(x.shape);
    const out = allocateOutput(dtype, size);
    if (size === 0) return out;
    checkView('copy', x);
    const layout = packLayout(x.shape, [rowMajor(x.shape), x.strides], [0, x.offset]);
    if (!layout) return js.copy(x, dtype);
    native.convert(layout, out, outCode, x.storage, xCode);
    return out;
  }

  function assign(dst: View<JsStorage>, src: View<JsStorage>): void {
    const dstCode = dtypeCode(dst.dtype);
    const srcCode = dtypeCode(src.dtype);
    // Writing into the buffer being read is order-dependent; the JavaScript kernel defines that order.
    if (dstCode === undefined || srcCode === undefined || dst.storage.buffer === src.storage.buffer) {
      js.assign(dst, src);
      return;
    }
    if (sizeOf(dst.shape) === 0) return;
    checkView('assign', dst);
    checkView('assign', src);
    const layout = packLayout(dst.shape, [dst.strides, src.strides], [dst.offset, src.offset]);
    if (!layout) {
      js.assign(dst, src);
      return;
    }
    native.convert(layout, dst.storage, dstCode, src.storage, srcCode);
  }

  function toHost(x: View<JsStorage>): HostArray {
    if (dtypeCode(x.dtype) === undefined) return js.toHost(x);
    const values = copy(x, x.dtype);
    escapeStorage(values);
    if (x.dtype === 'int64') return BigInt64Array.from(values as Float64Array, (v) => BigInt(v));
    return values as HostArray;
  }

  return { unary, binary, where, copy, assign, toHost };
}
