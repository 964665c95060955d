/**
 * Reductions, softmax, matrix products and the fused kernels of the cpu backend against the JavaScript reference kernels on random inputs — see test/agreement.ts and
 * test/views.ts. Exact agreement where the arithmetic is the same; float32 approximations within a few
 * ulp; products and sums (accumulated in another order) within bounds that grow with their length.
 */
import type { JsStorage, ReduceOp, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { it } from 'vitest';
import { describeAgreement, expectSame, isFloat, js, runs, tolerance, viewArb } from './agreement.js';
import { contiguous, float32Tolerance, layoutArb, makeView, NUMERIC_DTYPES } from './views.js';

describeAgreement("the cpu backend's reductions, products and fused kernels", (cpu) => {
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
        expectSame(cpu.reduce(op, x, axes, 'float32'), js.reduce(op, x, axes, 'float32'), float32Tolerance);
      }
    }
  });
  it('argmax/argmin: first occurrence, NaN wins, any axis and layout', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('argmax' as const, 'argmin' as const),
        fc.constantFrom(...NUMERIC_DTYPES),
        viewArb({ minRank: 1 }).chain(([shape, layout]) =>
          fc.tuple(fc.constant(shape), fc.constant(layout), fc.integer({ min: 0, max: shape.length - 1 })),
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
          fc.tuple(fc.constant(shape), fc.constant(layout), fc.integer({ min: 0, max: shape.length - 1 })),
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
          // float64 runs on the native dgemm: another summation order (and FMA), so a bound in k too.
          const a64 = makeView('float64', [...batch, m, k], arbitraryLayout(rankA, seed + 2));
          const b64 = makeView('float64', [...batch, k, n], arbitraryLayout(rankA, seed + 3));
          const bound64 = (value: number) => 1e-14 + 1e-14 * Math.abs(value) + 1e-15 * k * 9;
          expectSame(cpu.matmul(a64, b64, 'float64'), js.matmul(a64, b64, 'float64'), bound64);
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
          const ln = [cpu.layerNorm!(x, weight, bias, 1e-5), js.layerNorm!(x, weight, bias, 1e-5)] as const;
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
});
