import type { RandomSpec } from '../backend/kernels.js';
import { type Dtype, isFloating } from '../dtype.js';
import { TensorError } from '../errors.js';
import { defaultBackend, wrap } from '../ops/core.js';
import { assertShape, type Shape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { type Generator, getDefaultGenerator } from './generator.js';

export interface RandomOptions {
  readonly generator?: Generator | undefined;
  readonly dtype?: Dtype;
  readonly backend?: string;
  readonly requiresGrad?: boolean;
}

function draw(op: string, shape: Shape, spec: RandomSpec, dtype: Dtype, options: RandomOptions): Tensor {
  const checked = assertShape(op, 'shape', shape);
  const size = sizeOf(checked);
  const backend = defaultBackend(options.backend);
  const { key, counter } = (options.generator ?? getDefaultGenerator()).take(spec, size);
  const out = wrap(backend, backend.random(dtype, size, spec, key, counter), dtype, checked);
  if (options.requiresGrad) out.requiresGrad = true;
  return out;
}

function floatDtype(op: string, options: RandomOptions): Dtype {
  const dtype = options.dtype ?? 'float32';
  if (!isFloating(dtype)) throw new TensorError(`[${op}] dtype must be floating-point, received ${dtype}`);
  return dtype;
}

/** Uniform in [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  return draw(
    'rand',
    shape,
    { kind: 'uniform', low: options.low ?? 0, high: options.high ?? 1 },
    floatDtype('rand', options),
    options,
  );
}

/** Normal with mean and std (defaults 0 and 1). */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  return draw(
    'randn',
    shape,
    { kind: 'normal', mean: options.mean ?? 0, std: options.std ?? 1 },
    floatDtype('randn', options),
    options,
  );
}

/** 1 with probability p, else 0 (float32 by default). */
export function bernoulli(shape: Shape, p: number, options: RandomOptions = {}): Tensor {
  if (!(p >= 0 && p <= 1)) throw new TensorError(`[bernoulli] p must be in [0, 1], received ${p}`);
  return draw('bernoulli', shape, { kind: 'bernoulli', p }, options.dtype ?? 'float32', options);
}

/** Integers in [low, high) (int64 by default). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low || high - low > 2 ** 32) {
    throw new TensorError(
      `[randint] needs integers low < high with high − low ≤ 2³², received low ${low}, high ${high}`,
    );
  }
  return draw('randint', shape, { kind: 'randint', low, high }, options.dtype ?? 'int64', options);
}

/** A random permutation of 0..n-1 (int64): the stable argsort of n uniform draws. */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0)
    throw new TensorError(`[randperm] n must be a non-negative integer, received ${n}`);
  const keys = draw('randperm', [n], { kind: 'randint', low: 0, high: 2 ** 32 }, 'float64', options);
  return keys.sort(0).indices;
}

/**
 * PyTorch's `kaiming_uniform_(w, a, mode='fan_in', nonlinearity='leaky_relu')`: U(−b, b) with
 * b = gain · sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)). LoRA's default A init uses a = √5.
 */
export function kaimingUniform(
  shape: Shape,
  options: RandomOptions & { a?: number; fanIn?: number } = {},
): Tensor {
  const fanIn = options.fanIn ?? (shape.length < 2 ? shape[0]! : sizeOf(shape.slice(1)));
  if (!(fanIn > 0))
    throw new TensorError(
      `[kaimingUniform] fan-in must be positive, received ${fanIn} for shape [${shape.join(', ')}]`,
    );
  const a = options.a ?? 0;
  const bound = Math.sqrt(2 / (1 + a * a)) * Math.sqrt(3 / fanIn);
  return rand(shape, { ...options, low: -bound, high: bound });
}
