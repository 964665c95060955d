import { record } from '../autograd/node.js';
import { getBackend } from '../backend/registry.js';
import { promoteTypes } from '../dtype.js';
import { fmtShape, ShapeError, TensorError } from '../errors.js';
import { contiguousStrides, normalizeAxis, type Shape, shapesEqual, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { commonBackend, makeView, wrap } from './core.js';

/** Accepts `reshape(2, 3)` and `reshape([2, 3])`. */
export function shapeArgs(args: readonly (number | readonly number[])[]): number[] {
  return args.length === 1 && Array.isArray(args[0]) ? [...(args[0] as number[])] : (args as number[]);
}

export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous) return x;
  return clone(x);
}

export function clone(x: Tensor): Tensor {
  const out = wrap(x.backend, x.backend.copy(x.view(), x.dtype), x.dtype, x.shape);
  return record('clone', [x], out);
}

export function toBackend(x: Tensor, name: string): Tensor {
  const target = getBackend(name);
  if (target === x.backend) return x;
  const out = wrap(target, target.fromHost(x.toArray(), x.dtype), x.dtype, x.shape);
  return record('toBackend', [x], out, { from: x.backend.name });
}

/** Reshape; a view when the data is contiguous, a copy otherwise. One dimension may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = resolveShape('reshape', x, shape);
  if (shapesEqual(resolved, x.shape)) return x;
  const source = x.isContiguous ? x : clone(x);
  const out = makeView(source, resolved, contiguousStrides(resolved), source.offset);
  return record('reshape', [x], out);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const inferred = shape.filter((d) => d === -1).length;
  if (inferred > 1 || !shape.every((d) => Number.isInteger(d) && d >= -1)) {
    throw new ShapeError(
      `[${op}] invalid target shape ${fmtShape(shape)}: dims must be non-negative integers with at most one -1`,
    );
  }
  const known = shape.reduce((n, d) => (d === -1 ? n : n * d), 1);
  const resolved = shape.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
  if (sizeOf(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new ShapeError(
      `[${op}] cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`,
    );
  }
  return resolved;
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const start = normalizeAxis('flatten', startDim, x.rank);
  const end = normalizeAxis('flatten', endDim, x.rank);
  if (start > end) throw new ShapeError(`[flatten] startDim ${startDim} comes after endDim ${endDim}`);
  const shape = [
    ...x.shape.slice(0, start),
    sizeOf(x.shape.slice(start, end + 1)),
    ...x.shape.slice(end + 1),
  ];
  return reshape(x, shape);
}

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.rank) {
    throw new ShapeError(
      `[permute] needs ${x.rank} dims for a tensor of shape ${fmtShape(x.shape)}, received ${fmtShape(dims)}`,
    );
  }
  const axes = dims.map((d) => normalizeAxis('permute', d, x.rank));
  if (new Set(axes).size !== axes.length)
    throw new ShapeError(`[permute] dims ${fmtShape(dims)} repeat an axis`);
  const out = makeView(
    x,
    axes.map((a) => x.shape[a]!),
    axes.map((a) => x.strides[a]!),
    x.offset,
  );
  return record('permute', [x], out, { dims: axes });
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  if (x.rank < 2 && dim0 === -2 && dim1 === -1) return x;
  const a = normalizeAxis('transpose', dim0, x.rank);
  const b = normalizeAxis('transpose', dim1, x.rank);
  if (a === b) return x;
  const dims = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, dims);
}

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const axis = normalizeAxis('narrow', dim, x.rank);
  const size = x.shape[axis]!;
  if (start < 0) start += size;
  if (
    !Number.isInteger(start) ||
    !Number.isInteger(length) ||
    start < 0 ||
    length < 0 ||
    start + length > size
  ) {
    throw new ShapeError(
      `[narrow] start ${start} and length ${length} do not fit dimension ${axis} of size ${size} (shape ${fmtShape(x.shape)})`,
    );
  }
  const shape = x.shape.map((d, i) => (i === axis ? length : d));
  const out = makeView(x, shape, x.strides, x.offset + start * x.strides[axis]!);
  return record('narrow', [x], out, { axis, start });
}

export function select(x: Tensor, dim: number, index: number): Tensor {
  const axis = normalizeAxis('select', dim, x.rank);
  const size = x.shape[axis]!;
  const i = index < 0 ? index + size : index;
  if (!Number.isInteger(i) || i < 0 || i >= size) {
    throw new ShapeError(`[select] index ${index} is out of range for dimension ${axis} of size ${size}`);
  }
  const out = makeView(
    x,
    x.shape.filter((_, k) => k !== axis),
    x.strides.filter((_, k) => k !== axis),
    x.offset + i * x.strides[axis]!,
  );
  return record('select', [x], out, { axis, index: i });
}

/** Broadcasts to a larger shape without copying (-1 keeps a dimension). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.rank) {
    throw new ShapeError(
      `[expand] target ${fmtShape(shape)} has fewer dims than the tensor ${fmtShape(x.shape)}`,
    );
  }
  const lead = shape.length - x.rank;
  const resolved = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead]! : d));
  const strides = resolved.map((d, i) => {
    if (i < lead) return 0;
    const own = x.shape[i - lead]!;
    if (own === d) return x.strides[i - lead]!;
    if (own === 1) return 0;
    throw new ShapeError(
      `[expand] cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}: dimension ${i} is ${own}, not 1`,
    );
  });
  if (shapesEqual(resolved, x.shape)) return x;
  return record('expand', [x], makeView(x, resolved, strides, x.offset));
}

export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  const axes =
    dim === undefined
      ? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))
      : (typeof dim === 'number' ? [dim] : dim)
          .map((d) => normalizeAxis('squeeze', d, x.rank))
          .filter((a) => x.shape[a] === 1);
  if (axes.length === 0) return x;
  const out = makeView(
    x,
    x.shape.filter((_, i) => !axes.includes(i)),
    x.strides.filter((_, i) => !axes.includes(i)),
    x.offset,
  );
  return record('reshape', [x], out);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const axis = normalizeAxis('unsqueeze', dim, x.rank + 1);
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape.splice(axis, 0, 1);
  strides.splice(axis, 0, axis < x.rank ? x.strides[axis]! * x.shape[axis]! : 1);
  return record('reshape', [x], makeView(x, shape, strides, x.offset));
}

export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const axis = normalizeAxis('split', dim, x.rank);
  const total = x.shape[axis]!;
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) {
      throw new ShapeError(`[split] split size must be a positive integer, received ${sizeOrSections}`);
    }
    sizes = [];
    for (let start = 0; start < total; start += sizeOrSections)
      sizes.push(Math.min(sizeOrSections, total - start));
  } else {
    sizes = [...sizeOrSections];
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== total) {
      throw new ShapeError(
        `[split] sections ${fmtShape(sizes)} sum to ${sum} but dimension ${axis} has size ${total}`,
      );
    }
  }
  let start = 0;
  return sizes.map((length) => {
    const part = narrow(x, axis, start, length);
    start += length;
    return part;
  });
}

export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new ShapeError(`[chunk] chunks must be a positive integer, received ${chunks}`);
  const axis = normalizeAxis('chunk', dim, x.rank);
  return split(x, Math.max(1, Math.ceil(x.shape[axis]! / chunks)), axis);
}

/** Concatenates along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('[cat] needs at least one tensor');
  const first = tensors[0]!;
  const backend = commonBackend('cat', tensors);
  const axis = normalizeAxis('cat', dim, first.rank);
  for (const t of tensors) {
    if (t.rank !== first.rank || !t.shape.every((d, i) => i === axis || d === first.shape[i])) {
      throw new ShapeError(
        `[cat] shapes ${tensors.map((x) => fmtShape(x.shape)).join(', ')} differ outside dimension ${axis}`,
      );
    }
  }
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  const sizes = tensors.map((t) => t.shape[axis]!);
  const shape = first.shape.map((d, i) => (i === axis ? sizes.reduce((a, b) => a + b, 0) : d));
  const out = wrap(backend, backend.full(dtype, sizeOf(shape), 0), dtype, shape);
  let start = 0;
  for (const t of tensors) {
    const length = t.shape[axis]!;
    const target = out.view();
    backend.assign({ ...target, shape: t.shape, offset: start * target.strides[axis]! }, t.view());
    start += length;
  }
  return record('cat', tensors, out, { axis, sizes });
}

/** Stacks along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('[stack] needs at least one tensor');
  const first = tensors[0]!;
  for (const t of tensors) {
    if (!shapesEqual(t.shape, first.shape)) {
      throw new ShapeError(
        `[stack] all tensors need the same shape, received ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`,
      );
    }
  }
  const axis = normalizeAxis('stack', dim, first.rank + 1);
  return cat(
    tensors.map((t) => unsqueeze(t, axis)),
    axis,
  );
}

/** Sums a broadcast gradient back to `shape` (reduces leading and stretched dims). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? g.sum(axes, true) : g;
  return reshape(summed, [...shape]);
}
