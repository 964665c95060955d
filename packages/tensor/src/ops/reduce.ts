import { noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import type { ReduceOp } from '../backend/kernels.js';
import { type Dtype, isFloating } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './core.js';
import { reshape } from './view.js';

function keepShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduceRaw(
  op: ReduceOp,
  x: Tensor,
  axes: readonly number[],
  keepdim: boolean,
  outDtype: Dtype,
): Tensor {
  const reducedShape = x.shape.filter((_, i) => !axes.includes(i));
  if ((op === 'max' || op === 'min') && axes.some((a) => x.shape[a] === 0)) {
    throw new TensorError(`[${op}] cannot reduce over an empty dimension (shape ${fmtShape(x.shape)})`);
  }
  const out = wrap(x.backend, x.backend.reduce(op, x.view(), axes, outDtype), outDtype, reducedShape);
  return keepdim ? reshape(out, keepShape(x.shape, axes)) : out;
}

/** Integer and bool sums accumulate in int64, as PyTorch does. */
function sumDtype(dtype: Dtype): Dtype {
  return isFloating(dtype) ? dtype : 'int64';
}

export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = normalizeAxes('sum', dim, x.rank);
  const out = reduceRaw('sum', x, axes, keepdim, sumDtype(x.dtype));
  return record('sum', [x], out, { axes, keepdim });
}

export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  if (!isFloating(x.dtype))
    throw new TensorError(`[mean] needs a floating-point tensor, received ${x.dtype}`);
  const axes = normalizeAxes('mean', dim, x.rank);
  const count = sizeOf(axes.map((a) => x.shape[a]!));
  return sum(x, axes, keepdim).div(count);
}

export function prod(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = normalizeAxes('prod', dim, x.rank);
  const out = reduceRaw('prod', x, axes, keepdim, sumDtype(x.dtype));
  return record('prod', [x], out, { axes, keepdim });
}

/** max/min over dims (values only). The gradient is shared evenly between tied maxima (like amax). */
export function extreme(
  op: 'max' | 'min',
  x: Tensor,
  dim?: number | readonly number[],
  keepdim = false,
): Tensor {
  const axes = normalizeAxes(op, dim, x.rank);
  const out = reduceRaw(op, x, axes, keepdim, x.dtype);
  return record(op, [x], out, { axes, keepdim });
}

export function argReduce(op: 'argmax' | 'argmin', x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim === undefined) {
    const flat = reshape(x, [x.size]);
    const out = wrap(x.backend, x.backend.argReduce(op, flat.view(), 0), 'int64', []);
    return keepdim
      ? reshape(
          out,
          x.shape.map(() => 1),
        )
      : out;
  }
  const axis = normalizeAxis(op, dim, x.rank);
  if (x.shape[axis] === 0)
    throw new TensorError(`[${op}] cannot reduce over an empty dimension (shape ${fmtShape(x.shape)})`);
  const shape = x.shape.filter((_, i) => i !== axis);
  const out = wrap(x.backend, x.backend.argReduce(op, x.view(), axis), 'int64', shape);
  return keepdim ? reshape(out, keepShape(x.shape, [axis])) : out;
}

export function variance(
  x: Tensor,
  dim?: number | readonly number[],
  options: { correction?: number; keepdim?: boolean } = {},
): Tensor {
  const axes = normalizeAxes('var', dim, x.rank);
  const count = sizeOf(axes.map((a) => x.shape[a]!));
  const correction = options.correction ?? 1;
  const centered = x.sub(mean(x, axes, true));
  return sum(centered.square(), axes, options.keepdim ?? false).div(Math.max(0, count - correction));
}

export function norm(
  x: Tensor,
  p: number | 'fro',
  dim?: number | readonly number[],
  keepdim = false,
): Tensor {
  const order = p === 'fro' ? 2 : p;
  const axes = normalizeAxes('norm', dim, x.rank);
  if (order === Number.POSITIVE_INFINITY) return extreme('max', x.abs(), axes, keepdim);
  if (order === 2) {
    const out = sum(x.square(), axes, keepdim).sqrt();
    return out;
  }
  if (order === 1) return sum(x.abs(), axes, keepdim);
  if (!(order > 0)) throw new TensorError(`[norm] p must be positive, 'fro' or Infinity, received ${p}`);
  return sum(x.abs().pow(order), axes, keepdim).pow(1 / order);
}

export function logsumexp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  const axes = normalizeAxes('logsumexp', dim, x.rank);
  const shift = noGrad(() => {
    const m = extreme('max', x, axes, true);
    return m.maskedFill(m.isinf(), 0);
  });
  const out = sum(x.sub(shift).exp(), axes, true).log().add(shift);
  return keepdim
    ? out
    : reshape(
        out,
        x.shape.filter((_, i) => !axes.includes(i)),
      );
}

export function any(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = normalizeAxes('any', dim, x.rank);
  return reduceRaw('max', x.dtype === 'bool' ? x : x.ne(0), axes, keepdim, 'bool');
}

export function all(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = normalizeAxes('all', dim, x.rank);
  return reduceRaw('min', x.dtype === 'bool' ? x : x.ne(0), axes, keepdim, 'bool');
}
