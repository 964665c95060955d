import { record } from '../autograd/node.js';
import type { BinaryOp, UnaryOp } from '../backend/kernels.js';
import { type Dtype, isFloating, promoteTypes } from '../dtype.js';
import { AutogradError, DtypeError, fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes, shapesEqual } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { broadcastView, commonBackend, scalarLike, wrap } from './core.js';

/** Unary ops whose result is floating even for integer inputs (exp of an int tensor is float32). */
const FLOAT_RESULT = new Set<UnaryOp>([
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'silu',
  'gelu',
  'gelu_tanh',
  'erf',
  'reciprocal',
]);
const BOOL_RESULT = new Set<UnaryOp | BinaryOp>([
  'not',
  'isnan',
  'isinf',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'and',
  'or',
]);

function unaryDtype(op: UnaryOp, dtype: Dtype): Dtype {
  if (BOOL_RESULT.has(op)) return 'bool';
  if (FLOAT_RESULT.has(op) && !isFloating(dtype)) return 'float32';
  if (op === 'neg' && dtype === 'bool') {
    throw new DtypeError('[neg] negation of a bool tensor is not supported; use logicalNot()');
  }
  return dtype;
}

/** Applies an elementwise unary op (recorded for autograd under the op's own name). */
export function unary(op: UnaryOp, x: Tensor, params?: readonly number[]): Tensor {
  const outDtype = unaryDtype(op, x.dtype);
  const out = wrap(x.backend, x.backend.unary(op, x.view(), outDtype, params), outDtype, x.shape);
  return record(op, [x], out, params ? { params } : {});
}

function binaryDtype(op: BinaryOp, a: Dtype, b: Dtype): Dtype {
  if (BOOL_RESULT.has(op)) return 'bool';
  const promoted = promoteTypes(a, b);
  if (op === 'div' && !isFloating(promoted)) return 'float32';
  return promoted;
}

/** Elementwise binary op with NumPy broadcasting and PyTorch type promotion. */
export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const left = a instanceof Tensor ? a : scalarLike(op, a, b as Tensor);
  const right = scalarLike(op, b, left);
  const backend = commonBackend(op, [left, right]);
  const shape = broadcastShapes(op, left.shape, right.shape);
  const outDtype = binaryDtype(op, left.dtype, right.dtype);
  const storage = backend.binary(op, broadcastView(left, shape), broadcastView(right, shape), outDtype);
  return record(op, [left, right], wrap(backend, storage, outDtype, shape));
}

export function add(a: Tensor, b: TensorLike, alpha?: number): Tensor {
  return binary('add', a, alpha === undefined || alpha === 1 ? b : scaled(b, alpha));
}

export function sub(a: Tensor, b: TensorLike, alpha?: number): Tensor {
  return binary('sub', a, alpha === undefined || alpha === 1 ? b : scaled(b, alpha));
}

function scaled(b: TensorLike, alpha: number): TensorLike {
  return b instanceof Tensor ? binary('mul', b, alpha) : Number(b) * alpha;
}

export function pow(x: Tensor, exponent: TensorLike): Tensor {
  if (typeof exponent === 'number') {
    const outDtype = isFloating(x.dtype) || Number.isInteger(exponent) ? x.dtype : 'float32';
    const out = wrap(
      x.backend,
      x.backend.unary('pow_scalar', x.view(), outDtype, [exponent]),
      outDtype,
      x.shape,
    );
    return record('pow_scalar', [x], out, { params: [exponent] });
  }
  return binary('pow', x, exponent);
}

export function clamp(x: Tensor, min?: number, max?: number): Tensor {
  return unary('clamp', x, [min ?? Number.NEGATIVE_INFINITY, max ?? Number.POSITIVE_INFINITY]);
}

/** Converts dtype; differentiable between floating dtypes. */
export function cast(x: Tensor, dtype: Dtype): Tensor {
  if (dtype === x.dtype) return x;
  const out = wrap(x.backend, x.backend.copy(x.view(), dtype), dtype, x.shape);
  return isFloating(x.dtype) ? record('cast', [x], out) : out;
}

/** `condition ? a : b`, broadcasting all three. */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (condition.dtype !== 'bool') {
    throw new DtypeError(`[where] condition must be a bool tensor, received ${condition.dtype}`);
  }
  const left =
    a instanceof Tensor ? a : scalarLike('where', a, b instanceof Tensor ? b : condition.cast('float32'));
  const right = scalarLike('where', b, left);
  const backend = commonBackend('where', [condition, left, right]);
  const shape = broadcastShapes('where', broadcastShapes('where', condition.shape, left.shape), right.shape);
  const outDtype = promoteTypes(left.dtype, right.dtype);
  const storage = backend.where(
    broadcastView(condition, shape),
    broadcastView(left, shape),
    broadcastView(right, shape),
    outDtype,
  );
  return record('where', [left, right], wrap(backend, storage, outDtype, shape), {}, [condition]);
}

export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  const out = where(mask, value, x);
  if (!shapesEqual(out.shape, x.shape)) {
    throw new ShapeError(
      `[maskedFill] mask of shape ${fmtShape(mask.shape)} would grow the input ${fmtShape(x.shape)} to ${fmtShape(out.shape)}`,
    );
  }
  return out.dtype === x.dtype ? out : out.cast(x.dtype);
}

/**
 * Writes `src` into `dst`'s memory (broadcast, converted). Not recorded: in-place writes are for
 * optimizers and weight surgery, on tensors that are not part of a live graph.
 */
export function assignInPlace(dst: Tensor, src: TensorLike): void {
  if (dst.gradNode) {
    throw new AutogradError(
      '[assign] cannot write in place into a tensor produced by a recorded op; detach() it first',
    );
  }
  const source = scalarLike('assign', src, dst);
  const backend = commonBackend('assign', [dst, source]);
  const shape = broadcastShapes('assign', dst.shape, source.shape);
  if (!shapesEqual(shape, dst.shape)) {
    throw new ShapeError(
      `[assign] source of shape ${fmtShape(source.shape)} does not fit destination ${fmtShape(dst.shape)}`,
    );
  }
  backend.assign(dst.view(), broadcastView(source, dst.shape));
  dst.box.bumpVersion();
}
