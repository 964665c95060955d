/** Reductions, arg-reductions and softmax of the cuda backend (kernels/reduce.cuh). */
import type { Dtype, ReduceOp } from '@lorakit/tensor';
import type { Context } from './elementwise.js';
import { assertRank, coalesce, rowMajor, sizeOf } from './params.js';
import { type CudaStorage, type CudaView, DTYPE_CODE } from './storage.js';

const REDUCE_CODE: Readonly<Record<ReduceOp | 'argmax' | 'argmin', number>> = {
  sum: 0,
  prod: 1,
  max: 2,
  min: 3,
  argmax: 4,
  argmin: 5,
};

/** Merges neighbouring dims of one operand that are contiguous with each other; drops dims of size 1. */
function merge(
  dims: readonly number[],
  strides: readonly number[],
): { dims: readonly number[]; strides: readonly number[] } {
  const layout = coalesce(dims, [strides]);
  return { dims: layout.shape, strides: layout.strides[0]! };
}

export function reductionKernels({ device, memory }: Context) {
  const p = device.params;
  /** A whole block per line when lines are long or few, a warp per line otherwise. */
  const plan = (lines: number, length: number) => {
    const perBlock = length >= 1024 || lines <= device.info.multiprocessors;
    const blocks = perBlock
      ? Math.min(lines, device.info.multiprocessors * 8)
      : Math.min(Math.ceil(lines / 8), device.info.multiprocessors * 16);
    return { perBlock, blocks: Math.max(1, blocks) };
  };

  function lines(
    op: ReduceOp | 'argmax' | 'argmin',
    x: CudaView,
    kept: readonly number[],
    reduced: readonly number[],
    out: CudaStorage,
    outDtype: Dtype,
  ): void {
    const outer = merge(
      kept.map((d) => x.shape[d]!),
      kept.map((d) => x.strides[d]!),
    );
    const inner = merge(
      reduced.map((d) => x.shape[d]!),
      reduced.map((d) => x.strides[d]!),
    );
    const name = `reduce:${op}`;
    assertRank(name, outer.dims.length, x.shape);
    assertRank(name, inner.dims.length, x.shape);
    const nOut = sizeOf(outer.dims);
    const nInner = sizeOf(inner.dims);
    const { perBlock, blocks } = plan(nOut, nInner);
    p.begin().int(out.pointer).int(DTYPE_CODE[outDtype]).int(REDUCE_CODE[op]);
    p.int(x.storage.pointer)
      .int(DTYPE_CODE[x.dtype])
      .int(x.offset)
      .int(nOut)
      .int(nInner)
      .int(perBlock ? 1 : 0);
    p.int(outer.dims.length).ints(outer.dims).ints(outer.strides);
    p.int(inner.dims.length).ints(inner.dims).ints(inner.strides);
    const kernel = op === 'argmax' || op === 'argmin' ? 'arg_reduce_lines' : 'reduce_lines';
    device.launch(name, kernel, blocks, 256);
  }

  function reduce(op: ReduceOp, x: CudaView, axes: readonly number[], outDtype: Dtype): CudaStorage {
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const nOut = sizeOf(kept.map((d) => x.shape[d]!));
    const out = memory.allocate(outDtype, nOut, `reduce:${op}`);
    if (nOut > 0) lines(op, x, kept, axes, out, outDtype);
    return out;
  }

  function argReduce(op: 'argmax' | 'argmin', x: CudaView, axis: number): CudaStorage {
    const kept = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const nOut = sizeOf(kept.map((d) => x.shape[d]!));
    const out = memory.allocate('int64', nOut, op);
    if (nOut > 0) lines(op, x, kept, [axis], out, 'int64');
    return out;
  }

  function softmax(x: CudaView, axis: number, log: boolean): CudaStorage {
    const size = sizeOf(x.shape);
    const out = memory.allocate(x.dtype, size, log ? 'logSoftmax' : 'softmax');
    if (size === 0) return out;
    const outStrides = rowMajor(x.shape);
    const others = x.shape.map((_, i) => i).filter((i) => i !== axis);
    const outer = coalesce(
      others.map((d) => x.shape[d]!),
      [others.map((d) => x.strides[d]!), others.map((d) => outStrides[d]!)],
    );
    assertRank('softmax', outer.shape.length, x.shape);
    const n = x.shape[axis]!;
    const count = size / n;
    const { perBlock, blocks } = plan(count, n);
    p.begin().int(out.pointer).int(x.storage.pointer).int(DTYPE_CODE[x.dtype]).int(x.offset);
    p.int(n)
      .int(x.strides[axis]!)
      .int(outStrides[axis]!)
      .int(count)
      .int(log ? 1 : 0)
      .int(perBlock ? 1 : 0);
    p.int(outer.shape.length).ints(outer.shape).ints(outer.strides[0]!).ints(outer.strides[1]!);
    device.launch(log ? 'logSoftmax' : 'softmax', 'softmax_lines', blocks, 256);
    return out;
  }

  return { reduce, argReduce, softmax };
}
