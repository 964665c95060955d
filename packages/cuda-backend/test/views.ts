/**
 * Twin views for the agreement tests: the same values in the same layout on the JavaScript reference
 * backend and on `cuda`, in every layout kernels receive (contiguous, transposed, stepped, broadcast,
 * at an offset).
 */
import type { Backend, Dtype, HostArray, View } from '@lorakit/tensor';
import { expect } from 'vitest';

export type Layout = 'contiguous' | 'transposed' | 'stepped' | 'broadcast' | 'offset';
export const LAYOUTS: readonly Layout[] = ['contiguous', 'transposed', 'stepped', 'broadcast', 'offset'];

/** Deterministic xorshift32 in [0, 1). */
export function generator(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

export interface Values {
  readonly scale?: number;
  readonly positive?: boolean;
  readonly specials?: boolean;
  readonly range?: number;
  /** Integers in [low, high) (indices). */
  readonly integers?: readonly [number, number];
}

export function hostValues(dtype: Dtype, size: number, seed: number, options: Values = {}): HostArray {
  const random = generator(seed);
  const scale = options.scale ?? 3;
  const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 0.5, -0.5, 2.5];
  const integer = () => {
    if (options.integers)
      return options.integers[0] + Math.floor(random() * (options.integers[1] - options.integers[0]));
    const range = options.range ?? 20;
    return Math.floor(random() * (2 * range + 1)) - range;
  };
  switch (dtype) {
    case 'int32':
      return Int32Array.from({ length: size }, integer);
    case 'int64':
      return BigInt64Array.from({ length: size }, () => BigInt(integer()));
    case 'bool':
      return Uint8Array.from({ length: size }, () => (random() < 0.5 ? 1 : 0));
    default: {
      const out = dtype === 'float64' ? new Float64Array(size) : new Float32Array(size);
      for (let i = 0; i < size; i++) {
        const u = random();
        out[i] = options.positive ? (u + 1e-3) * scale : (2 * u - 1) * scale;
        if (options.specials && random() < 0.1) out[i] = specials[Math.floor(random() * specials.length)]!;
        if (options.integers) out[i] = integer();
      }
      return out;
    }
  }
}

export interface Twin {
  readonly js: View;
  readonly cuda: View;
}

/** The same view of the same values on both backends. */
export function twin(
  js: Backend,
  cuda: Backend,
  dtype: Dtype,
  shape: readonly number[],
  layout: Layout,
  seed: number,
  values: Values = {},
): Twin {
  const rank = shape.length;
  // Physical dims: reversed for a transposed view, the last one doubled for a stepped view.
  const order = layout === 'transposed' ? [...Array(rank).keys()].reverse() : [...Array(rank).keys()];
  const physical = order.map((d) => shape[d]!);
  if (layout === 'stepped' && rank > 0) physical[rank - 1]! *= 2;
  const physicalStrides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    physicalStrides[d] = s;
    s *= physical[d]!;
  }
  const strides = new Array<number>(rank);
  order.forEach((d, k) => {
    strides[d] = physicalStrides[k]! * (layout === 'stepped' && k === rank - 1 ? 2 : 1);
  });
  if (layout === 'broadcast' && rank > 0) strides[0] = 0;
  const offset = layout === 'offset' ? 3 : 0;
  const size = offset + Math.max(s, 1);
  const host = hostValues(dtype, size, seed, values);
  const view = (backend: Backend): View => ({
    storage: backend.fromHost(host, dtype),
    dtype,
    shape: [...shape],
    strides,
    offset,
  });
  return { js: view(js), cuda: view(cuda) };
}

export function contiguous(storage: unknown, dtype: Dtype, shape: readonly number[]): View {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  return { storage, dtype, shape: [...shape], strides, offset: 0 };
}

/** Relative tolerance per dtype for results that went through transcendental functions. */
export function tolerance(dtype: Dtype): number {
  if (dtype === 'float64') return 1e-12;
  if (dtype === 'float32') return 2e-6;
  if (dtype === 'float16') return 2e-3;
  if (dtype === 'bfloat16') return 1.6e-2;
  return 0;
}

/** Element-by-element comparison (NaN equals NaN; integers exactly), naming the first mismatch. */
export function expectClose(
  actual: HostArray,
  expected: HostArray,
  rtol: number,
  atol = rtol,
  label = '',
): void {
  expect(Object.prototype.toString.call(actual), label).toBe(Object.prototype.toString.call(expected));
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]!);
    const e = Number(expected[i]!);
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      throw new Error(`${label}: element ${i} is ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}
