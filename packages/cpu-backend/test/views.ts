/**
 * Random strided views for the kernel agreement tests: a view is a window onto a random storage with its
 * dims permuted (transposes), stepped (slices with a step), broadcast (stride 0) and offset, so kernels
 * see every layout the tensor ops can hand them. Values are deterministic per seed.
 */
import type { Dtype, JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';

export type NumericDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'bool';
export const NUMERIC_DTYPES: readonly NumericDtype[] = ['float32', 'float64', 'int32', 'int64', 'bool'];

/** How one view lays out its dims over the storage. */
export interface LayoutSpec {
  /** permutation[d] = the physical dim of logical dim d. */
  readonly permutation: readonly number[];
  readonly steps: readonly number[];
  readonly broadcast: readonly boolean[];
  readonly offset: number;
  readonly seed: number;
}

export function shapeArb(
  options: { minRank?: number; maxRank?: number; maxDim?: number; zero?: boolean } = {},
) {
  const { minRank = 0, maxRank = 4, maxDim = 5, zero = false } = options;
  return fc.array(fc.integer({ min: zero ? 0 : 1, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

export function layoutArb(rank: number) {
  return fc.record({
    permutation: fc.shuffledSubarray(
      Array.from({ length: rank }, (_, i) => i),
      { minLength: rank, maxLength: rank },
    ),
    steps: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: rank, maxLength: rank }),
    broadcast: fc.array(
      fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      { minLength: rank, maxLength: rank },
    ),
    offset: fc.integer({ min: 0, max: 3 }),
    seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  });
}

/** Deterministic xorshift32 in [0, 1). */
function generator(seed: number): () => number {
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

export interface ValueOptions {
  /** Floats are uniform in [-scale, scale). Default 3. */
  readonly scale?: number;
  /** Only positive floats (log, sqrt, pow bases). */
  readonly positive?: boolean;
  /** Sprinkle NaN, ±Infinity and −0 into float storage. */
  readonly specials?: boolean;
  /** Integers are uniform in [-range, range]. Default 20. */
  readonly range?: number;
}

function storageOf(dtype: NumericDtype, size: number, seed: number, options: ValueOptions): JsStorage {
  const random = generator(seed);
  const scale = options.scale ?? 3;
  const range = options.range ?? 20;
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const out = dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
      const specials = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, 0.5, -0.5];
      for (let i = 0; i < size; i++) {
        const u = random();
        out[i] = options.positive ? (u + 1e-3) * scale : (2 * u - 1) * scale;
        if (options.specials && random() < 0.08) out[i] = specials[Math.floor(random() * specials.length)]!;
      }
      return out;
    }
    case 'int32':
    case 'int64': {
      const out = dtype === 'int32' ? new Int32Array(size) : new Float64Array(size);
      for (let i = 0; i < size; i++) out[i] = Math.floor(random() * (2 * range + 1)) - range;
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(size);
      for (let i = 0; i < size; i++) out[i] = random() < 0.5 ? 1 : 0;
      return out;
    }
  }
}

/** A random view of `shape` laid out as `layout` says, over a fresh storage of `dtype`. */
export function makeView(
  dtype: NumericDtype,
  shape: readonly number[],
  layout: LayoutSpec,
  options: ValueOptions = {},
): View<JsStorage> {
  const rank = shape.length;
  // Physical dims: logical dim d is physical dim permutation[d], with step[d] elements per logical step.
  const physical = new Array<number>(rank).fill(1);
  for (let d = 0; d < rank; d++) {
    physical[layout.permutation[d]!] = layout.broadcast[d] ? 1 : Math.max(1, shape[d]! * layout.steps[d]!);
  }
  const physicalStrides = new Array<number>(rank);
  let size = 1;
  for (let p = rank - 1; p >= 0; p--) {
    physicalStrides[p] = size;
    size *= physical[p]!;
  }
  const strides = shape.map((_, d) =>
    layout.broadcast[d] ? 0 : physicalStrides[layout.permutation[d]!]! * layout.steps[d]!,
  );
  const storage = storageOf(dtype, layout.offset + size + 2, layout.seed, options);
  return { storage, dtype: dtype as Dtype, shape: [...shape], strides, offset: layout.offset };
}

/** A contiguous view (index tensors, weights). */
export function contiguous(
  dtype: NumericDtype,
  shape: readonly number[],
  seed: number,
  options: ValueOptions = {},
) {
  return makeView(
    dtype,
    shape,
    {
      permutation: shape.map((_, i) => i),
      steps: shape.map(() => 1),
      broadcast: shape.map(() => false),
      offset: 0,
      seed,
    },
    options,
  );
}

/** Element-wise comparison of two storages with a tolerance; NaN equals NaN. Returns the first mismatch. */
export function mismatch(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: (expected: number) => number = () => 0,
): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length} vs ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const b = expected[i]!;
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    if (a === b) continue;
    if (Math.abs(a - b) <= tolerance(b)) continue;
    return `element ${i}: cpu ${a}, js ${b}`;
  }
  return undefined;
}

/** Tolerance for float32 results of transcendental approximations: a few ulp, plus a tiny absolute part. */
export const float32Tolerance = (b: number) => 1e-6 + 4e-6 * Math.abs(b);
export const float64Tolerance = (b: number) => 1e-14 + 1e-12 * Math.abs(b);
