/**
 * Elementwise kernels, copies and assignments of the cpu backend against the JavaScript reference kernels on random inputs — see test/agreement.ts and
 * test/views.ts. Exact agreement where the arithmetic is the same; float32 approximations within a few
 * ulp; products and sums (accumulated in another order) within bounds that grow with their length.
 */
import type { JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { it } from 'vitest';
import {
  APPROXIMATED,
  BINARY,
  COMPARISONS,
  describeAgreement,
  expectSame,
  FLOAT_RESULT,
  isFloat,
  js,
  promote,
  runs,
  tolerance,
  UNARY,
  viewArb,
} from './agreement.js';
import { float64Tolerance, layoutArb, makeView, NUMERIC_DTYPES, shapeArb } from './views.js';

describeAgreement("the cpu backend's elementwise kernels", (cpu) => {
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
          const outDtype = predicate ? 'bool' : FLOAT_RESULT.has(op) && !isFloat(dtype) ? 'float32' : dtype;
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
});
