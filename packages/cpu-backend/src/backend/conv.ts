/**
 * im2col / col2im for 1-, 2- and 3-d convolutions on the native layer, float32 and float64. Fewer than
 * three spatial dims are padded in front with size-1 dims (kernel 1, stride 1, no padding), which
 * leaves the arithmetic unchanged.
 */
import type { Backend, ConvGeometry, JsStorage, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { allocate, dtypeCode } from './dtype-codes.js';
import { checkView, sizeOf } from './layout.js';

type Convolution = Pick<Backend<JsStorage>, 'im2col' | 'col2im'>;

function padded(values: readonly number[], fill: number): number[] {
  return [...new Array<number>(3 - values.length).fill(fill), ...values];
}

/** The packed geometry of native/tensor_binding.cc (read_conv). */
function packGeometry(
  batch: number,
  channels: number,
  spatial: readonly number[],
  geometry: ConvGeometry,
  strides: readonly number[],
  offset: number,
): Float64Array {
  return Float64Array.from([
    batch,
    channels,
    ...padded(spatial, 1),
    ...padded(geometry.kernel, 1),
    ...padded(geometry.stride, 1),
    ...padded(geometry.padding, 0),
    ...padded(geometry.dilation, 1),
    ...padded(geometry.outSpatial, 1),
    ...strides,
    offset,
  ]);
}

const supported = (view: View<JsStorage>, geometry: ConvGeometry) =>
  (view.dtype === 'float32' || view.dtype === 'float64') && geometry.kernel.length <= 3;

export function convolutionKernels(native: NativeBinding, js: Backend<JsStorage>): Convolution {
  function im2col(x: View<JsStorage>, geometry: ConvGeometry): JsStorage {
    if (!supported(x, geometry)) return js.im2col(x, geometry);
    const [batch, channels] = x.shape as [number, number];
    const rows = channels * sizeOf(geometry.kernel);
    const out = allocateOutput(x.dtype, batch * rows * sizeOf(geometry.outSpatial));
    if (out.length === 0) return out;
    checkView('im2col', x);
    const spatialStrides = padded(x.strides.slice(2), 0);
    const packed = packGeometry(
      batch,
      channels,
      x.shape.slice(2),
      geometry,
      [x.strides[0]!, x.strides[1]!, ...spatialStrides],
      x.offset,
    );
    native.im2col(packed, out, x.storage, dtypeCode(x.dtype)!);
    return out;
  }

  function col2im(
    columns: View<JsStorage>,
    geometry: ConvGeometry,
    inputShape: readonly number[],
  ): JsStorage {
    if (!supported(columns, geometry)) return js.col2im(columns, geometry, inputShape);
    const [batch, channels] = inputShape as [number, number];
    const out = allocate(columns.dtype, sizeOf(inputShape));
    if (out.length === 0 || sizeOf(columns.shape) === 0) return out;
    checkView('col2im', columns);
    const packed = packGeometry(
      batch,
      channels,
      inputShape.slice(2),
      geometry,
      [columns.strides[0]!, columns.strides[1]!, columns.strides[2]!, 0, 0],
      columns.offset,
    );
    native.col2im(packed, out, columns.storage, dtypeCode(columns.dtype)!);
    return out;
  }

  return { im2col, col2im };
}
