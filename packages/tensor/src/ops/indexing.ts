import { record } from '../autograd/node.js';
import { DtypeError, fmtShape, ShapeError, TensorError } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { commonBackend, wrap } from './core.js';
import { arange } from './creation.js';
import { where } from './elementwise.js';
import { reshape } from './view.js';

function assertIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int64' && index.dtype !== 'int32') {
    throw new DtypeError(`[${op}] index must be an int64 or int32 tensor, received ${index.dtype}`);
  }
}

/**
 * Bounds check of an index along dimension `axis` of size `size`; indices come from data (token ids,
 * labels), so bad ones are common. A backend with `checkIndexBounds` checks on the device and raises
 * the same error at its next host read (no synchronization per step); otherwise the index is read to
 * the host (two reductions) and the error is thrown here.
 */
function checkBounds(op: string, index: Tensor, size: number, axis: number): void {
  if (index.size === 0) return;
  const error = (value: number) =>
    new ShapeError(`[${op}] index ${value} is out of range for dimension ${axis} of size ${size}`);
  const backend = index.backend;
  if (backend.checkIndexBounds) {
    backend.checkIndexBounds(index.view(), { low: 0, high: size, error });
    return;
  }
  const lo = index.min().item();
  const hi = index.max().item();
  if (lo < 0 || hi >= size) throw error(lo < 0 ? lo : hi);
}

/** out[i][j] = x[index[i][j]][j] (dim 0) — PyTorch's gather. */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  assertIndex('gather', index);
  const axis = normalizeAxis('gather', dim, x.rank);
  if (index.rank !== x.rank || !index.shape.every((d, i) => i === axis || d <= x.shape[i]!)) {
    throw new ShapeError(
      `[gather] index ${fmtShape(index.shape)} must have the rank of the input ${fmtShape(x.shape)} and no larger size outside dim ${axis}`,
    );
  }
  checkBounds('gather', index, x.shape[axis]!, axis);
  const backend = commonBackend('gather', [x, index]);
  const out = wrap(backend, backend.gather(x.view(), axis, index.view()), x.dtype, index.shape);
  return record('gather', [x], out, { axis }, [index]);
}

/** Slices of x along `dim` picked by a 1-D index (embedding lookup is indexSelect on dim 0). */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  assertIndex('indexSelect', index);
  if (index.rank !== 1)
    throw new ShapeError(`[indexSelect] index must be 1-D, received ${fmtShape(index.shape)}`);
  const axis = normalizeAxis('indexSelect', dim, x.rank);
  checkBounds('indexSelect', index, x.shape[axis]!, axis);
  const backend = commonBackend('indexSelect', [x, index]);
  const shape = x.shape.map((d, i) => (i === axis ? index.size : d));
  const out = wrap(backend, backend.indexSelect(x.view(), axis, index.view()), x.dtype, shape);
  return record('indexSelect', [x], out, { axis }, [index]);
}

/** Embedding lookup: weight [num, dim], ids of any shape → [...ids.shape, dim]. */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  const flat = reshape(ids, [ids.size]);
  return reshape(indexSelect(weight, 0, flat), [...ids.shape, weight.shape[1]!]);
}

/** A copy of `x` with `src` added at `index` along `dim`. */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  assertIndex('scatterAdd', index);
  const axis = normalizeAxis('scatterAdd', dim, x.rank);
  if (
    index.rank !== x.rank ||
    src.rank !== x.rank ||
    !index.shape.every((d, i) => d <= src.shape[i]! && (i === axis || d <= x.shape[i]!))
  ) {
    throw new ShapeError(
      `[scatterAdd] index ${fmtShape(index.shape)}, src ${fmtShape(src.shape)} and input ${fmtShape(x.shape)} do not fit along dim ${axis}`,
    );
  }
  checkBounds('scatterAdd', index, x.shape[axis]!, axis);
  const backend = commonBackend('scatterAdd', [x, index, src]);
  const srcView = src.view();
  const added = wrap(
    backend,
    backend.scatterAdd(x.shape, x.dtype, axis, index.view(), { ...srcView, shape: index.shape }),
    x.dtype,
    x.shape,
  );
  const scattered = record('scatterAddSrc', [src], added, { axis }, [index]);
  return x.add(scattered);
}

/**
 * `dst.assign(dst.scatterAdd(dim, index, src))` in one sparse pass when the backend has the in-place
 * kernel. For tensors an op has just created (a gradient being assembled); indices must be in range.
 */
export function scatterAddInPlace(dst: Tensor, dim: number, index: Tensor, src: Tensor): void {
  const axis = normalizeAxis('scatterAdd', dim, dst.rank);
  const backend = commonBackend('scatterAdd', [dst, index, src]);
  const kernel = backend.scatterAddInPlace;
  if (kernel && (dst.dtype === 'float32' || dst.dtype === 'float64') && src.dtype === dst.dtype) {
    assertIndex('scatterAdd', index);
    kernel(dst.view(), axis, index.view(), { ...src.view(), shape: index.shape });
    dst.box.bumpVersion();
    return;
  }
  dst.assign(scatterAdd(dst, axis, index, src));
}

function triangleMask(x: Tensor, diagonal: number, upper: boolean): Tensor {
  if (x.rank < 2)
    throw new TensorError(
      `[${upper ? 'triu' : 'tril'}] needs at least 2 dims, received ${fmtShape(x.shape)}`,
    );
  const rows = x.shape[x.rank - 2]!;
  const cols = x.shape[x.rank - 1]!;
  const backend = x.backend.name;
  const r = arange(0, rows, 1, { backend }).reshape(rows, 1);
  const c = arange(0, cols, 1, { backend }).reshape(1, cols);
  const offset = c.sub(r);
  return upper ? offset.ge(diagonal) : offset.le(diagonal);
}

export function triu(x: Tensor, diagonal = 0): Tensor {
  return where(triangleMask(x, diagonal, true), x, 0);
}

export function tril(x: Tensor, diagonal = 0): Tensor {
  return where(triangleMask(x, diagonal, false), x, 0);
}
