import type { Backend, View } from '../backend/kernels.js';
import { getBackend } from '../backend/registry.js';
import { type Dtype, scalarDtypeFor } from '../dtype.js';
import { BackendError, TensorError } from '../errors.js';
import { contiguousStrides, type Shape } from '../shape.js';
import { StorageBox } from '../storage.js';
import { Tensor, type TensorLike } from '../tensor.js';

/** Wraps a fresh contiguous storage returned by a kernel into a tensor. */
export function wrap(backend: Backend, storage: unknown, dtype: Dtype, shape: Shape): Tensor {
  return new Tensor(new StorageBox(backend, storage), dtype, shape, contiguousStrides(shape), 0);
}

/** A tensor sharing `base`'s storage with another shape/strides/offset. */
export function makeView(base: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  return new Tensor(base.box, base.dtype, shape, strides, offset);
}

/** Throws unless all tensors live on one backend; returns it. */
export function commonBackend(op: string, tensors: readonly Tensor[]): Backend {
  const backend = tensors[0]!.backend;
  for (const t of tensors) {
    if (t.backend !== backend) {
      throw new BackendError(
        `[${op}] tensors are on different backends: ${tensors.map((x) => x.backend.name).join(' and ')}; move them with toBackend() first`,
      );
    }
  }
  return backend;
}

export function assertTensor(op: string, name: string, value: unknown): Tensor {
  if (!(value instanceof Tensor)) {
    throw new TensorError(`[${op}] ${name} must be a Tensor, received ${describe(value)}`);
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return `${typeof value} ${String(value)}`;
}

/** Turns a number/boolean into a 0-d tensor that sits next to `like` (PyTorch's weak scalar typing). */
export function scalarLike(op: string, value: TensorLike, like: Tensor): Tensor {
  if (value instanceof Tensor) return value;
  if (typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TensorError(`[${op}] expected a Tensor, number or boolean, received ${describe(value)}`);
  }
  const dtype = scalarDtypeFor(like.dtype, value);
  return wrap(like.backend, like.backend.full(dtype, 1, Number(value)), dtype, []);
}

/** The view of `t` broadcast to `shape` (stride 0 on broadcast dims). */
export function broadcastView(t: Tensor, shape: Shape): View {
  const view = t.view();
  if (view.shape.length === shape.length && view.shape.every((d, i) => d === shape[i])) return view;
  const lead = shape.length - t.rank;
  const strides = shape.map((d, i) => {
    const j = i - lead;
    if (j < 0) return 0;
    return t.shape[j] === 1 && d !== 1 ? 0 : t.strides[j]!;
  });
  return { ...view, shape, strides };
}

/**
 * Whether the optional fused kernels of x's backend take x's dtype: float32 and float64 always, float16
 * and bfloat16 when the backend declares `fusedHalfPrecision` (they compute in float32 and round once).
 */
export function fusedDtype(x: Tensor): boolean {
  if (x.dtype === 'float32' || x.dtype === 'float64') return true;
  return (x.dtype === 'float16' || x.dtype === 'bfloat16') && x.backend.fusedHalfPrecision === true;
}

export function defaultBackend(name?: string): Backend {
  return getBackend(name);
}
