/**
 * Shared pieces of the kernel agreement tests (test/*-agreement.test.ts): the JavaScript reference backend,
 * op lists, tolerances, and `describeAgreement`, which runs a suite once per native kernel set (AVX-512 and
 * AVX2/FMA where the CPU has them, and the portable one) against a fresh cpu backend.
 */
import {
  type Backend,
  BINARY_OPS,
  type BinaryOp,
  createJsBackend,
  type JsStorage,
  UNARY_OPS,
  type UnaryOp,
} from '@lorakit/tensor';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import {
  availableKernels,
  createCpuBackend,
  nativeAvailable,
  nativeLoadError,
  setKernel,
} from '../src/index.js';
import {
  float32Tolerance,
  float64Tolerance,
  layoutArb,
  mismatch,
  type NumericDtype,
  shapeArb,
} from './views.js';

export const runs = Number(process.env.LORAKIT_PROPERTY_RUNS ?? 50);
export const js = createJsBackend('js-reference');

/** [shape, layout] of a random view. */
export const viewArb = (options?: Parameters<typeof shapeArb>[0]) =>
  shapeArb(options).chain((shape) => fc.tuple(fc.constant(shape), layoutArb(shape.length)));

export function expectSame(actual: unknown, expected: unknown, tolerance?: (b: number) => number): void {
  const tag = (x: unknown) => Object.prototype.toString.call(x);
  expect(tag(actual)).toBe(tag(expected));
  const problem = mismatch(actual as ArrayLike<number>, expected as ArrayLike<number>, tolerance);
  if (problem) throw new Error(problem);
}

export const UNARY: readonly UnaryOp[] = UNARY_OPS;
/** float32 ops computed with vectorized approximations rather than through double. */
export const APPROXIMATED = new Set<UnaryOp>(['exp', 'tanh', 'sigmoid', 'silu', 'gelu', 'gelu_tanh', 'erf']);
export const FLOAT_RESULT = new Set<UnaryOp>([
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
export const BINARY: readonly BinaryOp[] = BINARY_OPS;
export const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or']);
const RANK: Record<NumericDtype, number> = { bool: 0, int32: 1, int64: 2, float32: 4, float64: 5 };
export const promote = (a: NumericDtype, b: NumericDtype) => (RANK[a] >= RANK[b] ? a : b);
export const isFloat = (d: NumericDtype) => d === 'float32' || d === 'float64';
export const tolerance = (dtype: string) =>
  dtype === 'float32' ? float32Tolerance : dtype === 'float64' ? float64Tolerance : undefined;

// Every kernel set: AVX-512 and AVX2/FMA where the CPU has them, and the portable one everywhere.
const kernelSets = nativeAvailable ? availableKernels() : (['portable'] as const);

/** Runs `suite` once per kernel set, with the native backend under test as its argument. */
export function describeAgreement(name: string, suite: (cpu: Backend<JsStorage>) => void): void {
  for (const kernel of kernelSets) {
    describe.skipIf(!nativeAvailable)(
      `${name} (${kernel}) agree with the js reference${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
      () => {
        const cpu = nativeAvailable ? createCpuBackend('cpu-under-test') : js;
        beforeAll(() => setKernel(kernel));
        afterAll(() => setKernel('auto'));
        suite(cpu);
      },
    );
  }
}
