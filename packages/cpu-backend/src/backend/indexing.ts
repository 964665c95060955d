/**
 * gather, scatterAdd, indexSelect (embedding lookup) and indexAdd (embedding backward) on the native
 * layer. Indices are int32 or int64 and already bounds-checked by the tensor ops. Gathers copy elements
 * of any dtype bit for bit; the adding kernels handle float32 and float64 and add in the reference's
 * order, so they agree with it exactly.
 */
import type { Backend, Dtype, JsStorage, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { allocate, dtypeCode } from './dtype-codes.js';
import { checkView, packLayout, rowMajor, sizeOf } from './layout.js';

type Indexing = Pick<Backend<JsStorage>, 'gather' | 'scatterAdd' | 'indexSelect' | 'indexAdd'>;

const isIndex = (dtype: Dtype) => dtype === 'int32' || dtype === 'int64';
const isFloat = (dtype: Dtype) => dtype === 'float32' || dtype === 'float64';

export function indexingKernels(native: NativeBinding, js: Backend<JsStorage>): Indexing {
  function gather(x: View<JsStorage>, axis: number, index: View<JsStorage>): JsStorage {
    const code = dtypeCode(x.dtype);
    if (code === undefined || !isIndex(index.dtype)) return js.gather(x, axis, index);
    const out = allocateOutput(x.dtype, sizeOf(index.shape));
    if (out.length === 0) return out;
    checkView('gather', x);
    checkView('gather', index);
    const xStrides = x.strides.map((s, d) => (d === axis ? 0 : s));
    const layout = packLayout(
      index.shape,
      [rowMajor(index.shape), index.strides, xStrides],
      [0, index.offset, x.offset],
    );
    if (!layout) return js.gather(x, axis, index);
    native.gather(layout, x.strides[axis]!, out, x.storage, code, index.storage, dtypeCode(index.dtype)!);
    return out;
  }

  function scatterAdd(
    shape: readonly number[],
    dtype: Dtype,
    axis: number,
    index: View<JsStorage>,
    src: View<JsStorage>,
  ): JsStorage {
    if (!isFloat(dtype) || src.dtype !== dtype || !isIndex(index.dtype)) {
      return js.scatterAdd(shape, dtype, axis, index, src);
    }
    const out = allocate(dtype, sizeOf(shape));
    if (out.length === 0 || sizeOf(index.shape) === 0) return out;
    checkView('scatterAdd', index);
    checkView('scatterAdd', src);
    const strides = rowMajor(shape);
    const layout = packLayout(
      index.shape,
      [strides.map((s, d) => (d === axis ? 0 : s)), index.strides, src.strides],
      [0, index.offset, src.offset],
    );
    if (!layout) return js.scatterAdd(shape, dtype, axis, index, src);
    native.scatterAdd(
      layout,
      strides[axis]!,
      out,
      dtypeCode(dtype)!,
      index.storage,
      dtypeCode(index.dtype)!,
      src.storage,
    );
    return out;
  }

  // Layouts of the dims before and after `axis` for (out, x) with out contiguous of `outShape`.
  function sliced(outShape: readonly number[], x: View<JsStorage>, axis: number) {
    const outStrides = rowMajor(outShape);
    const outer = packLayout(
      x.shape.slice(0, axis),
      [outStrides.slice(0, axis), x.strides.slice(0, axis)],
      [0, x.offset],
    );
    const inner = packLayout(
      x.shape.slice(axis + 1),
      [outStrides.slice(axis + 1), x.strides.slice(axis + 1)],
      [0, 0],
    );
    return { outer, inner, outAxisStride: outStrides[axis]! };
  }

  function indexSelect(x: View<JsStorage>, axis: number, index: View<JsStorage>): JsStorage {
    const code = dtypeCode(x.dtype);
    if (code === undefined || !isIndex(index.dtype)) return js.indexSelect(x, axis, index);
    const count = index.shape[0]!;
    const outShape = x.shape.map((d, i) => (i === axis ? count : d));
    const out = allocateOutput(x.dtype, sizeOf(outShape));
    if (out.length === 0) return out;
    checkView('indexSelect', x);
    checkView('indexSelect', index);
    const { outer, inner, outAxisStride } = sliced(outShape, x, axis);
    if (!outer || !inner) return js.indexSelect(x, axis, index);
    native.indexSelect(
      outer,
      inner,
      outAxisStride,
      x.strides[axis]!,
      out,
      x.storage,
      code,
      index.storage,
      dtypeCode(index.dtype)!,
      index.offset,
      index.strides[0]!,
      count,
    );
    return out;
  }

  function indexAdd(
    shape: readonly number[],
    dtype: Dtype,
    axis: number,
    index: View<JsStorage>,
    src: View<JsStorage>,
  ): JsStorage {
    if (!isFloat(dtype) || src.dtype !== dtype || !isIndex(index.dtype)) {
      return js.indexAdd(shape, dtype, axis, index, src);
    }
    const out = allocate(dtype, sizeOf(shape));
    const count = index.shape[0]!;
    if (out.length === 0 || sizeOf(src.shape) === 0) return out;
    checkView('indexAdd', index);
    checkView('indexAdd', src);
    const { outer, inner, outAxisStride } = sliced(shape, src, axis);
    if (!outer || !inner) return js.indexAdd(shape, dtype, axis, index, src);
    native.indexAdd(
      outer,
      inner,
      outAxisStride,
      src.strides[axis]!,
      out,
      src.storage,
      dtypeCode(dtype)!,
      index.storage,
      dtypeCode(index.dtype)!,
      index.offset,
      index.strides[0]!,
      count,
    );
    return out;
  }

  return { gather, scatterAdd, indexSelect, indexAdd };
}
