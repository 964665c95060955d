import { assertDtype, type Dtype, type HostArray, isFloating } from '../dtype.js';
import { fmtShape, TensorError } from '../errors.js';
import { assertShape, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { defaultBackend, describe, wrap } from './core.js';

export interface CreateOptions {
  readonly dtype?: Dtype;
  /** Backend name; the default backend when omitted. */
  readonly backend?: string;
  readonly requiresGrad?: boolean;
}

type Nested = number | boolean | bigint | readonly Nested[];

function finish(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad) {
    if (!isFloating(t.dtype)) {
      throw new TensorError(`[tensor] only floating-point tensors can require grad, this one is ${t.dtype}`);
    }
    t.requiresGrad = true;
  }
  return t;
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let level: Nested = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly Nested[])[0] as Nested;
    if (level === undefined) break;
  }
  return shape;
}

function flattenNested(
  data: Nested,
  shape: readonly number[],
  depth: number,
  out: (number | bigint | boolean)[],
): void {
  if (depth === shape.length) {
    if (Array.isArray(data))
      throw new TensorError('[tensor] nested arrays are ragged: deeper nesting than the first row');
    out.push(data as number | bigint | boolean);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new TensorError(
      `[tensor] nested arrays are ragged: expected ${shape[depth]} elements at depth ${depth}, received ${Array.isArray(data) ? data.length : describe(data)}`,
    );
  }
  for (const item of data as readonly Nested[]) flattenNested(item, shape, depth + 1, out);
}

function hostArrayFor(dtype: Dtype, values: ArrayLike<number | bigint | boolean>): HostArray {
  switch (dtype) {
    case 'float64':
      return Float64Array.from(values as ArrayLike<number>, Number);
    case 'int32':
      return Int32Array.from(values as ArrayLike<number>, Number);
    case 'int64':
      return BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v as number | bigint));
    case 'bool':
      return Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0));
    default:
      return Float32Array.from(values as ArrayLike<number>, Number);
  }
}

function inferDtype(values: ArrayLike<unknown> | HostArray): Dtype {
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof BigInt64Array) return 'int64';
  if (values instanceof Uint8Array) return 'bool';
  if (values instanceof Float32Array) return 'float32';
  const first = values[0];
  if (typeof first === 'boolean') return 'bool';
  if (typeof first === 'bigint') return 'int64';
  return 'float32';
}

/**
 * Creates a tensor from nested arrays, a typed array (with `shape`), or a number (0-d).
 * dtype defaults from the data: typed arrays keep theirs, numbers → float32, booleans → bool,
 * bigints → int64.
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2], [3, 4]]);                   // float32 [2, 2]
 * const ids = tensor([1, 5, 2], { dtype: 'int64' });
 * const w = tensor(new Float32Array(6), { shape: [2, 3], requiresGrad: true });
 * ```
 */
export function tensor(
  data: Nested | HostArray | ArrayLike<number>,
  options: CreateOptions & { readonly shape?: readonly number[] } = {},
): Tensor {
  let values: ArrayLike<number | bigint | boolean>;
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    values = data as HostArray;
    shape = options.shape ? assertShape('tensor', 'shape', options.shape) : [(data as HostArray).length];
  } else if (Array.isArray(data)) {
    shape = inferShape(data as Nested);
    const flat: (number | bigint | boolean)[] = [];
    flattenNested(data as Nested, shape, 0, flat);
    values = flat;
    if (options.shape) shape = assertShape('tensor', 'shape', options.shape);
  } else if (typeof data === 'number' || typeof data === 'boolean' || typeof data === 'bigint') {
    values = [data];
    shape = options.shape ? assertShape('tensor', 'shape', options.shape) : [];
  } else {
    throw new TensorError(
      `[tensor] data must be a number, nested arrays or a typed array, received ${describe(data)}`,
    );
  }
  if (sizeOf(shape) !== values.length) {
    throw new TensorError(
      `[tensor] shape ${fmtShape(shape)} needs ${sizeOf(shape)} elements but the data has ${values.length}`,
    );
  }
  const dtype = options.dtype ? assertDtype('tensor', options.dtype) : inferDtype(values);
  const backend = defaultBackend(options.backend);
  const host =
    ArrayBuffer.isView(values) && inferDtype(values) === hostDtypeOf(dtype)
      ? (values as HostArray)
      : hostArrayFor(dtype, values);
  return finish(wrap(backend, backend.fromHost(host, dtype), dtype, shape), options);
}

/** The host array type that carries a dtype (float16/bfloat16 travel as Float32Array). */
function hostDtypeOf(dtype: Dtype): Dtype {
  return dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype;
}

export function full(shape: Shape, value: number, options: CreateOptions = {}): Tensor {
  const checked = assertShape('full', 'shape', shape);
  const dtype = options.dtype ? assertDtype('full', options.dtype) : 'float32';
  const backend = defaultBackend(options.backend);
  return finish(wrap(backend, backend.full(dtype, sizeOf(checked), value), dtype, checked), options);
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** A tensor of `like`'s shape, dtype and backend filled with `value`. */
export function fullLike(like: Tensor, value: number, dtype: Dtype = like.dtype): Tensor {
  return wrap(like.backend, like.backend.full(dtype, like.size, value), dtype, like.shape);
}

export function zerosLike(like: Tensor, dtype?: Dtype): Tensor {
  return fullLike(like, 0, dtype);
}

export function onesLike(like: Tensor, dtype?: Dtype): Tensor {
  return fullLike(like, 1, dtype);
}

/** `[start, end)` by `step`; dtype int64 when all arguments are integers, else float32. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step))
    throw new TensorError(`[arange] step must be a non-zero finite number, received ${step}`);
  const size = Math.max(0, Math.ceil((end - start) / step));
  const integral = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dtype = options.dtype ?? (integral ? 'int64' : 'float32');
  const backend = defaultBackend(options.backend);
  return finish(wrap(backend, backend.arange(dtype, start, step, size), dtype, [size]), options);
}

/** `steps` evenly spaced values from `start` to `end` inclusive. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0)
    throw new TensorError(`[linspace] steps must be a non-negative integer, received ${steps}`);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  const dtype = options.dtype ?? 'float32';
  const backend = defaultBackend(options.backend);
  return finish(wrap(backend, backend.arange(dtype, start, step, steps), dtype, [steps]), options);
}

/** Identity matrix (n × m). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  const rows = arange(0, n, 1, { backend: options.backend }).reshape(n, 1);
  const cols = arange(0, m, 1, { backend: options.backend }).reshape(1, m);
  return finish(rows.eq(cols).cast(options.dtype ?? 'float32'), options);
}
