/**
 * Every native kernel of the cpu backend against the JavaScript reference kernel on random inputs:
 * strided, transposed, stepped, broadcast and offset views (test/views.ts), every dtype the native layer
 * handles, and special values (NaN, ±Infinity, −0). Both backends read the same typed arrays, so each
 * property calls the two kernels on the very same views. Exact agreement is required where the arithmetic
 * is the same (copies, casts, comparisons, +−×÷, integer math, gathers, index adds); float32
 * transcendental functions use vectorized approximations and agree to a few ulp; products and sums
 * accumulate in another order (float32 GEMM against the reference's float64) and get a bound that grows
 * with their length.
 */
import {
  type BinaryOp,
  type ConvGeometry,
  createJsBackend,
  type JsStorage,
  type ReduceOp,
  type UnaryOp,
  type View,
} from '@lorakit/tensor';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpuFeatures, createCpuBackend, nativeAvailable, nativeLoadError, setKernel } from '../src/index.js';
import {
  contiguous,
  float32Tolerance,
  float64Tolerance,
  layoutArb,
  makeView,
  mismatch,
  NUMERIC_DTYPES,
  type NumericDtype,
  shapeArb,
} from './views.js';

const runs = Number(process.env.LORAKIT_PROPERTY_RUNS ?? 50);
const js = createJsBackend('js-reference');

/** [shape, layout] of a random view. */
const viewArb = (options?: Parameters<typeof shapeArb>[0]) =>
  shapeArb(options).chain((shape) => fc.tuple(fc.constant(shape), layoutArb(shape.length)));

function expectSame(actual: unknown, expected: unknown, tolerance?: (b: number) => number): void {
  const tag = (x: unknown) => Object.prototype.toString.call(x);
  expect(tag(actual)).toBe(tag(expected));
  const problem = mismatch(actual as ArrayLike<number>, expected as ArrayLike<number>, tolerance);
  if (problem) throw new Error(problem);
}

const UNARY: readonly UnaryOp[] = [
  'neg',
  'abs',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'relu',
  'silu',
  'gelu',
  'gelu_tanh',
  'erf',
  'sign',
  'reciprocal',
  'square',
  'floor',
  'ceil',
  'round',
  'not',
  'isnan',
  'isinf',
  'pow_scalar',
  'clamp',
];
/** float32 ops computed with vectorized approximations rather than through double. */
const APPROXIMATED = new Set<UnaryOp>(['exp', 'tanh', 'sigmoid', 'silu', 'gelu', 'gelu_tanh', 'erf']);
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
const BINARY: readonly BinaryOp[] = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'and',
  'or',
];
const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or']);
const RANK: Record<NumericDtype, number> = { bool: 0, int32: 1, int64: 2, float32: 4, float64: 5 };
const promote = (a: NumericDtype, b: NumericDtype) => (RANK[a] >= RANK[b] ? a : b);
const isFloat = (d: NumericDtype) => d === 'float32' || d === 'float64';
const tolerance = (dtype: string) =>
  dtype === 'float32' ? float32Tolerance : dtype === 'float64' ? float64Tolerance : undefined;

// Both kernel sets: the AVX2/FMA one where the CPU has it, and the portable one everywhere.
const kernelSets =
  nativeAvailable && cpuFeatures().avx2Fma ? (['avx2-fma', 'portable'] as const) : (['portable'] as const);

for (const kernel of kernelSets) {
  describe.skipIf(!nativeAvailable)(
    `cpu kernels (${kernel}) agree with the js reference${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
    () => {
      const cpu = nativeAvailable ? createCpuBackend('cpu-under-test') : js;
      beforeAll(() => setKernel(kernel));
      afterAll(() => setKernel('auto'));

      it('unary: every op and dtype, any layout, NaN/±Infinity/−0', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...UNARY),
            fc.constantFrom(...NUMERIC_DTYPES),
            viewArb({ zero: true }),
            fc.constantFrom(2.5, 2, 0.5, -1, 3, Number.NaN),
            (op, dtype, [shape, layout], exponent) => {
              if (op === 'neg' && dtype === 'bool') return;
              const x = makeView(dtype, shape, layout, { specials: true });
              const predicate = op === 'not' || op === 'isnan' || op === 'isinf';
              const outDtype = predicate
                ? 'bool'
                : FLOAT_RESULT.has(op) && !isFloat(dtype)
                  ? 'float32'
                  : dtype;
              const params = op === 'pow_scalar' ? [exponent] : op === 'clamp' ? [-0.5, 0.7] : undefined;
              // As the tensor ops decide: a fractional exponent makes an integer tensor float32.
              if (op === 'pow_scalar' && !isFloat(dtype) && !Number.isInteger(exponent)) return;
              // Exact where the float32 arithmetic is the same; a few ulp for the approximations and for
              // double-computed ops rounded once in JS but twice here (int → float32 → op).
              const exact = outDtype === 'float32' && !APPROXIMATED.has(op) && dtype === 'float32';
              const bound = exact
                ? (b: number) => (Number.isFinite(b) ? 2e-7 * Math.abs(b) : 0)
                : tolerance(outDtype);
              expectSame(cpu.unary(op, x, outDtype, params), js.unary(op, x, outDtype, params), bound);
            },
          ),
          { numRuns: runs * 6 },
        );
      });

      it('binary: every op, mixed dtypes, independent broadcasting of both operands', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...BINARY),
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom(...NUMERIC_DTYPES),
            shapeArb({ zero: true }).chain((shape) =>
              fc.tuple(fc.constant(shape), layoutArb(shape.length), layoutArb(shape.length)),
            ),
            (op, aType, bType, [shape, la, lb]) => {
              const promoted = promote(aType, bType);
              // Integer powers stay below 2⁵³, where double results are exact on both sides.
              const range = op === 'pow' && !isFloat(promoted) ? 4 : 20;
              const a = makeView(aType, shape, la, { specials: true, range });
              const b = makeView(bType, shape, lb, { specials: true, range });
              const outDtype = COMPARISONS.has(op)
                ? 'bool'
                : op === 'div' && !isFloat(promoted)
                  ? 'float32'
                  : promoted;
              // pow runs through the C library's pow here and V8's in the reference: they differ in the last
              // bit now and then, also where an integer tensor holds a negative power.
              const bound = op === 'pow' && outDtype === 'int64' ? float64Tolerance : tolerance(outDtype);
              expectSame(cpu.binary(op, a, b, outDtype), js.binary(op, a, b, outDtype), bound);
            },
          ),
          { numRuns: runs * 6 },
        );
      });

      it('where: bool condition, any operand dtypes and layouts', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom(...NUMERIC_DTYPES),
            shapeArb().chain((shape) =>
              fc.tuple(
                fc.constant(shape),
                layoutArb(shape.length),
                layoutArb(shape.length),
                layoutArb(shape.length),
              ),
            ),
            (aType, bType, [shape, lc, la, lb]) => {
              const c = makeView('bool', shape, lc);
              const a = makeView(aType, shape, la, { specials: true });
              const b = makeView(bType, shape, lb, { specials: true });
              const outDtype = promote(aType, bType);
              expectSame(cpu.where(c, a, b, outDtype), js.where(c, a, b, outDtype));
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('copy: gathers any layout into logical order with every cast; toHost reads the same', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom(...NUMERIC_DTYPES),
            viewArb({ zero: true }),
            (from, to, [shape, layout]) => {
              const x = makeView(from, shape, layout, { specials: true, scale: 300 });
              expectSame(cpu.copy(x, to), js.copy(x, to));
              const host = (h: unknown) =>
                h instanceof BigInt64Array ? Float64Array.from(h, Number) : (h as ArrayLike<number>);
              expectSame(host(cpu.toHost(x)), host(js.toHost(x)));
            },
          ),
          { numRuns: runs * 3 },
        );
      });

      it('assign: strided destination, broadcast source, casts', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom(...NUMERIC_DTYPES),
            shapeArb().chain((shape) =>
              fc.tuple(
                fc.constant(shape),
                layoutArb(shape.length).map((l) => ({ ...l, broadcast: l.broadcast.map(() => false) })),
                layoutArb(shape.length),
              ),
            ),
            (to, from, [shape, ld, ls]) => {
              const src = makeView(from, shape, ls, { specials: true, scale: 300 });
              const dstCpu = makeView(to, shape, ld);
              const dstJs = makeView(to, shape, ld);
              cpu.assign(dstCpu, src);
              js.assign(dstJs, src);
              expectSame(dstCpu.storage, dstJs.storage);
            },
          ),
          { numRuns: runs * 3 },
        );
      });

      it('reduce: sum/prod/max/min over any axes, any layout (sums accumulate in double)', () => {
        const ops: ReduceOp[] = ['sum', 'prod', 'max', 'min'];
        fc.assert(
          fc.property(
            fc.constantFrom(...ops),
            fc.constantFrom(...NUMERIC_DTYPES),
            viewArb({ maxDim: 7 }).chain(([shape, layout]) =>
              fc.tuple(fc.constant(shape), fc.constant(layout), fc.subarray(shape.map((_, i) => i))),
            ),
            fc.boolean(),
            (op, dtype, [shape, layout, axes], specials) => {
              const x = makeView(dtype, shape, layout, { specials, scale: op === 'prod' ? 1.5 : 3 });
              const outDtype = op === 'sum' || op === 'prod' ? (isFloat(dtype) ? dtype : 'int64') : dtype;
              // Sums run in double in both, in another order here (several partial sums): a float64 result
              // may differ by rounding relative to the sum of magnitudes, not to the (cancelling) result.
              const count = axes.reduce((p, a) => p * shape[a]!, 1);
              const bound =
                outDtype === 'float64'
                  ? (b: number) => 1e-13 * count * 3 + 1e-12 * Math.abs(b)
                  : tolerance(outDtype);
              expectSame(cpu.reduce(op, x, axes, outDtype), js.reduce(op, x, axes, outDtype), bound);
            },
          ),
          { numRuns: runs * 4 },
        );
      });

      it('reduce: large column and row sums, and a whole-tensor sum split across threads', () => {
        for (const [shape, axes] of [
          [[1024, 300], [0]],
          [[300, 1024], [1]],
          [
            [64, 33, 70],
            [0, 2],
          ],
          [[1 << 18], [0]],
        ] as const) {
          for (const op of ['sum', 'max'] as const) {
            const x = contiguous('float32', shape, 7);
            expectSame(
              cpu.reduce(op, x, axes, 'float32'),
              js.reduce(op, x, axes, 'float32'),
              float32Tolerance,
            );
          }
        }
      });

      it('argmax/argmin: first occurrence, NaN wins, any axis and layout', () => {
        fc.assert(
          fc.property(
            fc.constantFrom('argmax' as const, 'argmin' as const),
            fc.constantFrom(...NUMERIC_DTYPES),
            viewArb({ minRank: 1 }).chain(([shape, layout]) =>
              fc.tuple(
                fc.constant(shape),
                fc.constant(layout),
                fc.integer({ min: 0, max: shape.length - 1 }),
              ),
            ),
            (op, dtype, [shape, layout, axis]) => {
              const x = makeView(dtype, shape, layout, { specials: true, range: 3 });
              expectSame(cpu.argReduce(op, x, axis), js.argReduce(op, x, axis));
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('softmax / log-softmax along any axis, float32 and float64', () => {
        fc.assert(
          fc.property(
            fc.constantFrom('float32' as const, 'float64' as const),
            fc.boolean(),
            viewArb({ minRank: 1, maxDim: 9 }).chain(([shape, layout]) =>
              fc.tuple(
                fc.constant(shape),
                fc.constant(layout),
                fc.integer({ min: 0, max: shape.length - 1 }),
              ),
            ),
            fc.boolean(),
            (dtype, log, [shape, layout, axis], specials) => {
              const x = makeView(dtype, shape, layout, { specials, scale: 20 });
              expectSame(cpu.softmax(x, axis, log), js.softmax(x, axis, log), tolerance(dtype));
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('matmul: transposed, stepped and broadcast operands, batch dims merged or not', () => {
        fc.assert(
          fc.property(
            fc.tuple(
              fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
              fc.integer({ min: 1, max: 9 }),
              fc.integer({ min: 0, max: 9 }),
              fc.integer({ min: 1, max: 9 }),
            ),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            ([batch, m, k, n], seed) => {
              const rankA = batch.length + 2;
              const arbitraryLayout = (rank: number, s: number) =>
                fc.sample(layoutArb(rank), { seed: s, numRuns: 1 })[0]!;
              const a = makeView('float32', [...batch, m, k], arbitraryLayout(rankA, seed));
              const b = makeView('float32', [...batch, k, n], arbitraryLayout(rankA, seed + 1));
              const bound = (value: number) => 1e-6 + 1e-6 * Math.abs(value) + 3e-7 * k * 9;
              expectSame(cpu.matmul(a, b, 'float32'), js.matmul(a, b, 'float32'), bound);
              // float64 runs on the reference kernel.
              const a64 = makeView('float64', [...batch, m, k], arbitraryLayout(rankA, seed + 2));
              const b64 = makeView('float64', [...batch, k, n], arbitraryLayout(rankA, seed + 3));
              expectSame(cpu.matmul(a64, b64, 'float64'), js.matmul(a64, b64, 'float64'));
            },
          ),
          { numRuns: runs * 3 },
        );
      });

      it('matmul: the model shapes (x·Wᵀ with W stored [out, in], attention batches, a batch folded into rows)', () => {
        const cases: [View<JsStorage>, View<JsStorage>][] = [];
        const x = contiguous('float32', [64, 96], 1);
        const w = contiguous('float32', [80, 96], 2);
        cases.push([x, { ...w, shape: [96, 80], strides: [1, 96] }]);
        const q = contiguous('float32', [2, 3, 17, 8], 3);
        const kT = {
          ...contiguous('float32', [2, 3, 17, 8], 4),
          shape: [2, 3, 8, 17],
          strides: [408, 136, 1, 8],
        };
        cases.push([q, kT]);
        const rows = contiguous('float32', [4, 33, 20], 5);
        const shared = { ...contiguous('float32', [20, 7], 6), shape: [4, 20, 7], strides: [0, 7, 1] };
        cases.push([rows, shared]);
        for (const [a, b] of cases) {
          const k = a.shape[a.shape.length - 1]!;
          expectSame(
            cpu.matmul(a, b, 'float32'),
            js.matmul(a, b, 'float32'),
            (v) => 1e-5 + 1e-6 * Math.abs(v) * k,
          );
        }
      });

      it('gather and scatterAdd along any axis with int32 and int64 indices', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom('int32' as const, 'int64' as const),
            viewArb({ minRank: 1 }).chain(([shape, layout]) =>
              fc.tuple(
                fc.constant(shape),
                fc.constant(layout),
                fc.integer({ min: 0, max: shape.length - 1 }),
              ),
            ),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            (dtype, indexType, [shape, layout, axis], seed) => {
              const x = makeView(dtype, shape, layout, { specials: true });
              const indexShape = shape.map((d, i) =>
                i === axis ? 1 + (seed % 4) : Math.max(1, d - (seed % 2)),
              );
              const index = contiguous(indexType, indexShape, seed, { range: 0 });
              const limit = shape[axis]!;
              const values = index.storage as Int32Array | Float64Array;
              for (let i = 0; i < values.length; i++) values[i] = (seed + i * 7) % limit;
              expectSame(cpu.gather(x, axis, index), js.gather(x, axis, index));
              if (isFloat(dtype)) {
                const src = makeView(
                  dtype,
                  indexShape,
                  fc.sample(layoutArb(indexShape.length), { seed, numRuns: 1 })[0]!,
                );
                expectSame(
                  cpu.scatterAdd(shape, dtype, axis, index, src),
                  js.scatterAdd(shape, dtype, axis, index, src),
                );
              }
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('indexSelect and indexAdd (embedding lookup and backward) with repeated indices', () => {
        fc.assert(
          fc.property(
            fc.constantFrom(...NUMERIC_DTYPES),
            fc.constantFrom('int32' as const, 'int64' as const),
            viewArb({ minRank: 1 }).chain(([shape, layout]) =>
              fc.tuple(
                fc.constant(shape),
                fc.constant(layout),
                fc.integer({ min: 0, max: shape.length - 1 }),
              ),
            ),
            fc.integer({ min: 0, max: 7 }),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            (dtype, indexType, [shape, layout, axis], count, seed) => {
              const x = makeView(dtype, shape, layout, { specials: true });
              const limit = shape[axis]!;
              const index = makeView(indexType, [count], {
                permutation: [0],
                steps: [1 + (seed % 2)],
                broadcast: [false],
                offset: seed % 3,
                seed,
              });
              const values = index.storage as Int32Array | Float64Array;
              for (let i = 0; i < values.length; i++) values[i] = (seed + i * 5) % limit;
              expectSame(cpu.indexSelect(x, axis, index), js.indexSelect(x, axis, index));
              if (isFloat(dtype)) {
                const srcShape = shape.map((d, i) => (i === axis ? count : d));
                const src = makeView(
                  dtype,
                  srcShape,
                  fc.sample(layoutArb(srcShape.length), { seed, numRuns: 1 })[0]!,
                );
                expectSame(
                  cpu.indexAdd(shape, dtype, axis, index, src),
                  js.indexAdd(shape, dtype, axis, index, src),
                );
              }
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('im2col and col2im for 1-, 2- and 3-d geometries with stride, padding and dilation', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 3 }),
            fc.constantFrom('float32' as const, 'float64' as const),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            (nd, dtype, seed) => {
              const pick = (i: number, lo: number, hi: number) => lo + ((seed >>> (i * 3)) % (hi - lo + 1));
              const kernel = Array.from({ length: nd }, (_, i) => pick(i, 1, 3));
              const stride = Array.from({ length: nd }, (_, i) => pick(i + 3, 1, 2));
              const padding = Array.from({ length: nd }, (_, i) => pick(i + 6, 0, 1));
              const dilation = Array.from({ length: nd }, (_, i) => pick(i + 8, 1, 2));
              const spatial = Array.from({ length: nd }, (_, i) => pick(i + 5, 3, 6));
              const outSpatial = spatial.map(
                (s, i) =>
                  Math.floor((s + 2 * padding[i]! - dilation[i]! * (kernel[i]! - 1) - 1) / stride[i]!) + 1,
              );
              if (outSpatial.some((o) => o < 1)) return;
              const geometry: ConvGeometry = { kernel, stride, padding, dilation, outSpatial };
              const shape = [2, 3, ...spatial];
              const x = makeView(dtype, shape, fc.sample(layoutArb(shape.length), { seed, numRuns: 1 })[0]!);
              expectSame(cpu.im2col(x, geometry), js.im2col(x, geometry));
              const rows = 3 * kernel.reduce((p, q) => p * q, 1);
              const columns = outSpatial.reduce((p, q) => p * q, 1);
              const cols = makeView(
                dtype,
                [2, rows, columns],
                fc.sample(layoutArb(3), { seed: seed + 1, numRuns: 1 })[0]!,
              );
              expectSame(cpu.col2im(cols, geometry, shape), js.col2im(cols, geometry, shape));
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('fused rmsNorm, layerNorm and loraLinear against their references', () => {
        fc.assert(
          fc.property(
            viewArb({ minRank: 1, maxRank: 3, maxDim: 12 }),
            fc.boolean(),
            fc.boolean(),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            ([shape, layout], withWeight, withBias, seed) => {
              const width = shape[shape.length - 1]!;
              const x = makeView('float32', shape, layout);
              const weight = withWeight
                ? makeView('float32', [width], fc.sample(layoutArb(1), { seed, numRuns: 1 })[0]!)
                : null;
              const bias = withBias ? contiguous('float32', [width], seed + 1) : null;
              const rms = [cpu.rmsNorm!(x, weight, 1e-6), js.rmsNorm!(x, weight, 1e-6)] as const;
              expectSame(rms[0].out, rms[1].out, float32Tolerance);
              expectSame(rms[0].rstd, rms[1].rstd, float32Tolerance);
              const ln = [
                cpu.layerNorm!(x, weight, bias, 1e-5),
                js.layerNorm!(x, weight, bias, 1e-5),
              ] as const;
              expectSame(ln[0].out, ln[1].out, (b) => 1e-5 + 1e-5 * Math.abs(b));
              expectSame(ln[0].mean, ln[1].mean, float32Tolerance);
              expectSame(ln[0].rstd, ln[1].rstd, float32Tolerance);
            },
          ),
          { numRuns: runs * 2 },
        );
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 12 }),
            fc.integer({ min: 0, max: 16 }),
            fc.integer({ min: 1, max: 12 }),
            fc.integer({ min: 0, max: 4 }),
            fc.boolean(),
            fc.boolean(),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            (rows, inFeatures, outFeatures, r, withBias, transposedWeight, seed) => {
              const x = makeView(
                'float32',
                [rows, inFeatures],
                fc.sample(layoutArb(2), { seed, numRuns: 1 })[0]!,
              );
              const stored = contiguous(
                'float32',
                transposedWeight ? [inFeatures, outFeatures] : [outFeatures, inFeatures],
                seed + 1,
              );
              const weight = transposedWeight
                ? { ...stored, shape: [outFeatures, inFeatures], strides: [1, outFeatures] }
                : stored;
              const bias = withBias ? contiguous('float32', [outFeatures], seed + 2) : null;
              const a = makeView(
                'float32',
                [r, inFeatures],
                fc.sample(layoutArb(2), { seed: seed + 3, numRuns: 1 })[0]!,
              );
              const b = makeView(
                'float32',
                [outFeatures, r],
                fc.sample(layoutArb(2), { seed: seed + 4, numRuns: 1 })[0]!,
              );
              const ours = cpu.loraLinear!(x, weight, bias, a, b, 1.75);
              const reference = js.loraLinear!(x, weight, bias, a, b, 1.75);
              // float32 products against the reference's float64 ones: entries are below 3 in magnitude, so
              // x·Wᵀ and h are sums of `in` terms below 9 and s·h·Bᵀ of r terms below 1.75·3·9·in.
              const bound = () => 1e-6 * (1 + inFeatures) * (1 + 5 * r) * 9;
              expectSame(ours.out, reference.out, bound);
              expectSame(ours.hidden, reference.hidden, bound);
            },
          ),
          { numRuns: runs * 2 },
        );
      });

      it('svd, qr and eigh agree with the reference (same algorithms, same signs)', () => {
        fc.assert(
          fc.property(
            fc.integer({ min: 1, max: 24 }),
            fc.integer({ min: 1, max: 24 }),
            fc.boolean(),
            fc.constantFrom('float32' as const, 'float64' as const),
            fc.integer({ min: 1, max: 2 ** 31 - 1 }),
            (m, n, full, dtype, seed) => {
              // No broadcast dims: repeated rows would make the matrix rank-deficient, where singular vectors
              // of equal singular values are any basis and two roundings may pick different ones.
              const dense = (shape: number[], s: number) =>
                makeView(dtype, shape, {
                  ...fc.sample(layoutArb(2), { seed: s, numRuns: 1 })[0]!,
                  broadcast: [false, false],
                });
              const x = dense([m, n], seed);
              const bound =
                dtype === 'float32'
                  ? (v: number) => 2e-6 + 2e-6 * Math.abs(v)
                  : (v: number) => 1e-11 + 1e-11 * Math.abs(v);
              const s = [cpu.svd(x, full), js.svd(x, full)] as const;
              expectSame(s[0].s, s[1].s, bound);
              expectSame(s[0].u, s[1].u, bound);
              expectSame(s[0].vh, s[1].vh, bound);
              const q = [cpu.qr(x), js.qr(x)] as const;
              expectSame(q[0].q, q[1].q, bound);
              expectSame(q[0].r, q[1].r, bound);
              const square = dense([m, m], seed + 1);
              const e = [cpu.eigh(square), js.eigh(square)] as const;
              expectSame(e[0].values, e[1].values, bound);
              expectSame(e[0].vectors, e[1].vectors, bound);
            },
          ),
          { numRuns: runs },
        );
      });

      it('svd, qr and eigh on matrices large enough for the threaded passes and the panel-wise rotations', () => {
        for (const [m, n] of [
          [300, 260],
          [180, 301],
        ] as const) {
          const x = contiguous('float64', [m, n], m + n);
          const bound = (v: number) => 1e-10 + 1e-10 * Math.abs(v);
          for (const full of [false, true]) {
            const [ours, reference] = [cpu.svd(x, full), js.svd(x, full)];
            expectSame(ours.s, reference.s, bound);
            expectSame(ours.u, reference.u, bound);
            expectSame(ours.vh, reference.vh, bound);
          }
          const [q, r] = [cpu.qr(x), js.qr(x)];
          expectSame(q.q, r.q, bound);
          expectSame(q.r, r.r, bound);
        }
        const square = contiguous('float64', [257, 257], 3);
        const [ours, reference] = [cpu.eigh(square), js.eigh(square)];
        expectSame(ours.values, reference.values, (v) => 1e-10 + 1e-10 * Math.abs(v));
        expectSame(ours.vectors, reference.vectors, (v) => 1e-9 + 1e-9 * Math.abs(v));
      });

      it('svd of a rank-deficient matrix: the same singular values and a reconstruction to rounding', () => {
        // Rows repeat (a broadcast view), so most singular values are zero and the QR iteration chases zeros.
        const base = contiguous('float64', [40, 1, 30], 9);
        const x: View<JsStorage> = { ...base, shape: [40 * 3, 30], strides: [0, 1] };
        const tiled: View<JsStorage> = {
          ...contiguous('float64', [6, 30], 11),
          shape: [120, 30],
          strides: [0, 1],
        };
        for (const matrix of [x, tiled]) {
          const ours = cpu.svd(matrix, false);
          const reference = js.svd(matrix, false);
          expectSame(ours.s, reference.s, (v) => 1e-11 + 1e-11 * Math.abs(v));
          const [m, n] = matrix.shape as [number, number];
          const k = Math.min(m, n);
          const u = ours.u as Float64Array;
          const s = ours.s as Float64Array;
          const vh = ours.vh as Float64Array;
          const dense = js.copy(matrix, 'float64') as Float64Array;
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let sum = 0;
              for (let l = 0; l < k; l++) sum += u[i * k + l]! * s[l]! * vh[l * n + j]!;
              expect(Math.abs(sum - dense[i * n + j]!)).toBeLessThan(1e-12 * 40);
            }
          }
        }
      });

      it('float16/bfloat16 inputs run on the reference kernels', () => {
        const halves = js.fromHost(Float32Array.from([1, -2, 3.5, 0.25]), 'bfloat16');
        const view: View<JsStorage> = {
          storage: halves,
          dtype: 'bfloat16',
          shape: [4],
          strides: [1],
          offset: 0,
        };
        expectSame(cpu.unary('exp', view, 'bfloat16'), js.unary('exp', view, 'bfloat16'));
        expectSame(cpu.copy(view, 'float32'), js.copy(view, 'float32'));
      });
    },
  );
}
