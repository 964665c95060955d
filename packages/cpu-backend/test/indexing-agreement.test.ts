/**
 * Gathers, scatters, index selects/adds and im2col/col2im of the cpu backend against the JavaScript reference kernels on random inputs — see test/agreement.ts and
 * test/views.ts. Exact agreement where the arithmetic is the same; float32 approximations within a few
 * ulp; products and sums (accumulated in another order) within bounds that grow with their length.
 */
import type { ConvGeometry } from '@lorakit/tensor';
import fc from 'fast-check';
import { it } from 'vitest';
import { describeAgreement, expectSame, isFloat, js, runs, viewArb } from './agreement.js';
import { contiguous, layoutArb, makeView, NUMERIC_DTYPES } from './views.js';

describeAgreement("the cpu backend's indexing and convolution kernels", (cpu) => {
  it('gather and scatterAdd along any axis with int32 and int64 indices', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...NUMERIC_DTYPES),
        fc.constantFrom('int32' as const, 'int64' as const),
        viewArb({ minRank: 1 }).chain(([shape, layout]) =>
          fc.tuple(fc.constant(shape), fc.constant(layout), fc.integer({ min: 0, max: shape.length - 1 })),
        ),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (dtype, indexType, [shape, layout, axis], seed) => {
          const x = makeView(dtype, shape, layout, { specials: true });
          const indexShape = shape.map((d, i) => (i === axis ? 1 + (seed % 4) : Math.max(1, d - (seed % 2))));
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
          fc.tuple(fc.constant(shape), fc.constant(layout), fc.integer({ min: 0, max: shape.length - 1 })),
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
});
