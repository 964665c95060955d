import { TensorError } from '../errors.js';
import { normalizeAxis } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './core.js';
import { gather } from './indexing.js';
import { narrow, reshape, select } from './view.js';

/**
 * Stable sort along `dim` (NaN largest). Values are differentiable: they are `x.gather(dim, indices)`.
 */
export function sort(x: Tensor, dim = -1, descending = false): { values: Tensor; indices: Tensor } {
  if (x.rank === 0)
    return { values: x, indices: wrap(x.backend, x.backend.full('int64', 1, 0), 'int64', []) };
  const axis = normalizeAxis('sort', dim, x.rank);
  const result = x.backend.sort(x.view(), axis, descending);
  const indices = wrap(x.backend, result.indices, 'int64', x.shape);
  if (x.requiresGrad) {
    x.backend.dispose(result.values);
    return { values: gather(x, axis, indices), indices };
  }
  return { values: wrap(x.backend, result.values, x.dtype, x.shape), indices };
}

export function topk(x: Tensor, k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
  const axis = normalizeAxis('topk', dim, x.rank);
  const size = x.shape[axis] ?? 1;
  if (!Number.isInteger(k) || k < 0 || k > size) {
    throw new TensorError(`[topk] k must be an integer in [0, ${size}] for dimension ${axis}, received ${k}`);
  }
  const sorted = sort(x, axis, largest);
  return { values: narrow(sorted.values, axis, 0, k), indices: narrow(sorted.indices, axis, 0, k) };
}

/** The k-th smallest value (1-based, like PyTorch) and its index along `dim`. */
export function kthvalue(
  x: Tensor,
  k: number,
  dim = -1,
  keepdim = false,
): { values: Tensor; indices: Tensor } {
  const axis = normalizeAxis('kthvalue', dim, x.rank);
  const size = x.shape[axis] ?? 1;
  if (!Number.isInteger(k) || k < 1 || k > size) {
    throw new TensorError(
      `[kthvalue] k must be an integer in [1, ${size}] for dimension ${axis}, received ${k}`,
    );
  }
  const sorted = sort(x, axis, false);
  let values = select(sorted.values, axis, k - 1);
  let indices = select(sorted.indices, axis, k - 1);
  if (keepdim) {
    values = values.unsqueeze(axis);
    indices = indices.unsqueeze(axis);
  }
  return { values, indices };
}

/**
 * The q-quantile with linear interpolation (PyTorch's default), over `dim` or the flattened tensor.
 */
export function quantile(x: Tensor, q: number, dim?: number, keepdim = false): Tensor {
  if (!(q >= 0 && q <= 1)) throw new TensorError(`[quantile] q must be in [0, 1], received ${q}`);
  const source = dim === undefined ? reshape(x, [x.size]) : x;
  const axis = dim === undefined ? 0 : normalizeAxis('quantile', dim, x.rank);
  const n = source.shape[axis]!;
  if (n === 0) throw new TensorError('[quantile] cannot take a quantile of an empty dimension');
  const position = q * (n - 1);
  const lowIndex = Math.floor(position);
  const highIndex = Math.min(lowIndex + 1, n - 1);
  const fraction = position - lowIndex;
  const sorted = sort(source, axis, false).values;
  const low = select(sorted, axis, lowIndex);
  const high = select(sorted, axis, highIndex);
  let out = fraction === 0 ? low : low.add(high.sub(low).mul(fraction));
  if (keepdim)
    out =
      dim === undefined
        ? reshape(
            out,
            x.shape.map(() => 1),
          )
        : out.unsqueeze(axis);
  return out;
}
