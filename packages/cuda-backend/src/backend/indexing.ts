/** gather / indexSelect, scatterAdd / indexAdd / scatterAddInPlace and the stable sort (kernels/indexing.cuh). */
import type { Dtype, IndexBoundsCheck, Shape } from '@lorakit/tensor';
import { address, type Context, elementwiseKernels } from './elementwise.js';
import { assertRank, coalesce, rowMajor, sizeOf } from './params.js';
import { type CudaStorage, type CudaView, DTYPE_CODE } from './storage.js';

/** The dtype scatter-adds accumulate in: atomics exist for f32, f64, i32 and i64. */
function accumulatorDtype(dtype: Dtype): Dtype {
  if (dtype === 'float16' || dtype === 'bfloat16') return 'float32';
  if (dtype === 'bool') return 'int32';
  return dtype;
}

export function indexingKernels(context: Context) {
  const { device, memory } = context;
  const p = device.params;
  const elementwise = elementwiseKernels(context);

  function gatherLike(
    op: string,
    x: CudaView,
    axis: number,
    index: CudaView,
    outShape: readonly number[],
    byAxis: boolean,
  ): CudaStorage {
    const n = sizeOf(outShape);
    const out = memory.allocate(x.dtype, n, op);
    if (n === 0) return out;
    assertRank(op, outShape.length, outShape);
    p.begin()
      .int(out.pointer)
      .int(DTYPE_CODE[x.dtype])
      .int(n)
      .int(outShape.length)
      .int(axis)
      .int(byAxis ? 1 : 0)
      .int(x.shape[axis]!);
    p.ints(outShape).arg(index, index.strides, index.shape).arg(x, x.strides, x.shape);
    device.launch(op, 'gather_kernel', device.blocksFor(n), 256);
    return out;
  }

  function scatterLike(
    op: string,
    out: CudaStorage,
    outDtype: Dtype,
    outOffset: number,
    outStrides: readonly number[],
    outShape: readonly number[],
    axis: number,
    index: CudaView,
    src: CudaView,
    byAxis: boolean,
  ): void {
    const dims = byAxis ? src.shape : index.shape;
    const n = sizeOf(dims);
    if (n === 0) return;
    assertRank(op, dims.length, dims);
    p.begin().int(out.pointer).int(DTYPE_CODE[outDtype]).int(outOffset).int(n).int(dims.length).int(axis);
    p.int(byAxis ? 1 : 0)
      .int(outShape[axis]!)
      .ints(dims)
      .ints(outStrides)
      .arg(index, index.strides, index.shape)
      .arg(src, src.strides, src.shape);
    device.launch(op, 'scatter_add_kernel', device.blocksFor(n), 256);
  }

  /** zeros(shape) of `dtype`, accumulated in an atomics-capable dtype and converted at the end. */
  function accumulate(
    op: string,
    shape: Shape,
    dtype: Dtype,
    fill: (out: CudaStorage, acc: Dtype) => void,
  ): CudaStorage {
    const size = sizeOf(shape);
    const acc = accumulatorDtype(dtype);
    const out = memory.zeros(acc, size, op);
    fill(out, acc);
    if (acc === dtype) return out;
    const converted = elementwise.copy(
      { storage: out, dtype: acc, shape: [size], strides: [1], offset: 0 },
      dtype,
    );
    memory.dispose(out);
    return converted;
  }

  function sort(
    x: CudaView,
    axis: number,
    descending: boolean,
  ): { values: CudaStorage; indices: CudaStorage } {
    const size = sizeOf(x.shape);
    const values = memory.allocate(x.dtype, size, 'sort');
    const indices = memory.allocate('int64', size, 'sort');
    const n = x.shape[axis]!;
    if (size === 0) return { values, indices };
    const lines = size / n;
    let padded = 1;
    while (padded < n) padded *= 2;
    const outStrides = rowMajor(x.shape);
    const others = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const outer = coalesce(
      others.map((d) => x.shape[d]!),
      [others.map((d) => x.strides[d]!), others.map((d) => outStrides[d]!)],
    );
    assertRank('sort', outer.shape.length, x.shape);
    const shared = padded * 16;
    const global = shared > device.info.sharedMemoryPerBlock - 2048;
    const keys = global ? memory.allocate('float64', lines * padded, 'sort') : undefined;
    const order = global ? memory.allocate('int64', lines * padded, 'sort') : undefined;
    const pack = (k: number, j: number) => {
      p.begin().int(values.pointer).int(indices.pointer).int(x.storage.pointer).int(DTYPE_CODE[x.dtype]);
      p.int(x.offset).int(n).int(padded).int(x.strides[axis]!).int(outStrides[axis]!).int(lines);
      p.int(descending ? 1 : 0)
        .int(keys?.pointer ?? 0)
        .int(order?.pointer ?? 0)
        .int(k)
        .int(j);
      p.int(outer.shape.length).ints(outer.shape).ints(outer.strides[0]!).ints(outer.strides[1]!);
    };
    if (!global) {
      pack(0, 0);
      const threads = Math.min(1024, Math.max(32, padded / 2));
      device.launch('sort', 'sort_shared', Math.min(lines, device.info.multiprocessors * 8), threads, shared);
      return { values, indices };
    }
    const total = lines * padded;
    pack(0, 0);
    device.launch('sort', 'sort_global_init', device.blocksFor(total), 256);
    for (let k = 2; k <= padded; k *= 2) {
      for (let j = k / 2; j > 0; j = Math.floor(j / 2)) {
        pack(k, j);
        device.launch('sort', 'sort_global_step', device.blocksFor(total), 256);
      }
    }
    pack(0, 0);
    device.launch('sort', 'sort_global_finish', device.blocksFor(lines * n), 256);
    memory.dispose(keys!);
    memory.dispose(order!);
    return { values, indices };
  }

  function checkIndexBounds(index: CudaView, check: IndexBoundsCheck): void {
    const n = sizeOf(index.shape);
    if (n === 0) return;
    const layout = coalesce(index.shape, [index.strides]);
    assertRank('checkIndexBounds', layout.shape.length, index.shape);
    const { tag, flag } = device.check(check.error);
    p.begin().int(flag).int(tag).int(check.low).int(check.high);
    p.int(check.allowed === undefined ? 0 : 1).int(check.allowed ?? 0);
    p.shape(layout.shape).arg(index, layout.strides[0]!, layout.shape);
    device.launch('checkIndexBounds', 'check_bounds', device.blocksFor(n), 256);
  }

  function dequantize(
    kernel: string,
    codes: CudaView,
    absmax: CudaView,
    codebook: CudaView | null,
    size: number,
    blocksize: number,
    columns: number,
    scale: number,
    outDtype: Dtype,
  ): CudaStorage {
    const out = memory.allocate(outDtype, size, kernel);
    if (size === 0) return out;
    p.begin().int(out.pointer).int(DTYPE_CODE[outDtype]).int(address(codes)).int(address(absmax));
    p.int(codebook ? address(codebook) : 0)
      .int(size)
      .int(blocksize)
      .int(columns)
      .real(scale);
    device.launch(
      kernel,
      kernel === 'dequantize4bit' ? 'dequantize_4bit' : 'dequantize_int8',
      device.blocksFor(size),
      256,
    );
    return out;
  }

  return {
    checkIndexBounds,
    dequantize4bit: (
      packed: CudaView,
      absmax: CudaView,
      codebook: CudaView,
      size: number,
      blocksize: number,
      outDtype: Dtype,
    ) => dequantize('dequantize4bit', packed, absmax, codebook, size, blocksize, 1, 1, outDtype),
    dequantizeInt8: (
      codes: CudaView,
      absmax: CudaView,
      rows: number,
      columns: number,
      scale: number,
      outDtype: Dtype,
    ) =>
      dequantize(
        'dequantizeInt8',
        codes,
        absmax,
        null,
        rows * columns,
        1,
        columns,
        Math.fround(scale),
        outDtype,
      ),
    gather: (x: CudaView, axis: number, index: CudaView) =>
      gatherLike('gather', x, axis, index, index.shape, false),
    indexSelect: (x: CudaView, axis: number, index: CudaView) =>
      gatherLike(
        'indexSelect',
        x,
        axis,
        index,
        x.shape.map((d, i) => (i === axis ? index.shape[0]! : d)),
        true,
      ),
    scatterAdd: (shape: Shape, dtype: Dtype, axis: number, index: CudaView, src: CudaView) =>
      accumulate('scatterAdd', shape, dtype, (out, acc) =>
        scatterLike('scatterAdd', out, acc, 0, rowMajor(shape), shape, axis, index, src, false),
      ),
    indexAdd: (shape: Shape, dtype: Dtype, axis: number, index: CudaView, src: CudaView) =>
      accumulate('indexAdd', shape, dtype, (out, acc) =>
        scatterLike('indexAdd', out, acc, 0, rowMajor(shape), shape, axis, index, src, true),
      ),
    scatterAddInPlace: (dst: CudaView, axis: number, index: CudaView, src: CudaView) =>
      scatterLike(
        'scatterAddInPlace',
        dst.storage,
        dst.dtype,
        dst.offset,
        dst.strides,
        dst.shape,
        axis,
        index,
        src,
        false,
      ),
    sort,
  };
}
