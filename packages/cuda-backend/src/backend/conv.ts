/** im2col / col2im of the cuda backend (kernels/conv.cuh), for 1-, 2- and 3-d convolutions. */
import type { ConvGeometry, Shape } from '@lorakit/tensor';
import { BackendError } from '@lorakit/tensor';
import { type Context, elementwiseKernels } from './elementwise.js';
import { isRowMajor, rowMajor, sizeOf } from './params.js';
import { type CudaStorage, type CudaView, DTYPE_CODE } from './storage.js';

const MAXS = 3;

export function convolutionKernels(context: Context) {
  const { device, memory } = context;
  const p = device.params;
  const elementwise = elementwiseKernels(context);

  function pack(
    out: CudaStorage,
    outDtype: CudaView['dtype'],
    input: CudaView,
    batch: number,
    channels: number,
    inputSpatial: readonly number[],
    geometry: ConvGeometry,
  ): void {
    const nd = geometry.kernel.length;
    if (nd > MAXS) {
      throw new BackendError(
        `[cuda im2col] convolutions of at most ${MAXS} spatial dims are supported, received ${nd}`,
      );
    }
    p.begin()
      .int(out.pointer)
      .int(DTYPE_CODE[outDtype])
      .int(input.storage.pointer)
      .int(DTYPE_CODE[input.dtype]);
    p.int(batch)
      .int(channels)
      .int(nd)
      .int(sizeOf(geometry.kernel))
      .int(sizeOf(geometry.outSpatial))
      .int(sizeOf(inputSpatial));
    for (const list of [
      geometry.kernel,
      geometry.stride,
      geometry.padding,
      geometry.dilation,
      geometry.outSpatial,
      inputSpatial,
    ]) {
      p.ints(list, MAXS);
    }
    p.int(input.offset).ints(input.strides, 2 + MAXS);
  }

  function im2col(x: CudaView, geometry: ConvGeometry): CudaStorage {
    const [batch, channels] = x.shape as [number, number];
    const rows = channels * sizeOf(geometry.kernel);
    const total = batch * rows * sizeOf(geometry.outSpatial);
    const out = memory.allocate(x.dtype, total, 'im2col');
    if (total === 0) return out;
    pack(out, x.dtype, x, batch, channels, x.shape.slice(2), geometry);
    device.launch('im2col', 'im2col_kernel', device.blocksFor(total), 256);
    return out;
  }

  function col2im(columns: CudaView, geometry: ConvGeometry, inputShape: Shape): CudaStorage {
    const [batch, channels] = inputShape as [number, number];
    const size = sizeOf(inputShape);
    const accumulator = columns.dtype === 'float64' ? 'float64' : 'float32';
    const out = memory.zeros(accumulator, size, 'col2im');
    let source = columns;
    let temporary: CudaStorage | undefined;
    if (!isRowMajor(columns.shape, columns.strides)) {
      temporary = elementwise.copy(columns, columns.dtype);
      source = { ...columns, storage: temporary, strides: rowMajor(columns.shape), offset: 0 };
    }
    const total = sizeOf(columns.shape);
    if (total > 0) {
      pack(out, accumulator, source, batch, channels, inputShape.slice(2), geometry);
      // The columns are read contiguously from their offset.
      device.launch('col2im', 'col2im_kernel', device.blocksFor(total), 256);
    }
    if (temporary) memory.dispose(temporary);
    if (accumulator === columns.dtype) return out;
    const converted = elementwise.copy(
      { storage: out, dtype: accumulator, shape: [size], strides: [1], offset: 0 },
      columns.dtype,
    );
    memory.dispose(out);
    return converted;
  }

  return { im2col, col2im };
}
