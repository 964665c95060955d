import { LorakitError, listNames } from '@lorakit/safetensors';

export { LorakitError, listNames };

/** An op received arguments it cannot work with: shapes, dtypes, axes, values. */
export class TensorError extends LorakitError {}

/** Shapes that do not fit together (broadcasting, matmul, reshape, cat, …). */
export class ShapeError extends TensorError {}

/** A dtype the op does not accept, or two dtypes that cannot be combined. */
export class DtypeError extends TensorError {}

/** Backend problems: unknown backend, mixing backends in one op, a disposed tensor. */
export class BackendError extends TensorError {}

/** Autograd misuse: backward from a non-scalar without a gradient, or on a graph already freed. */
export class AutogradError extends TensorError {}

/** Linear algebra failures (non-convergence, non-square input, …). */
export class LinalgError extends TensorError {}

/** `[1, 2, 3]` in the house style for messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
