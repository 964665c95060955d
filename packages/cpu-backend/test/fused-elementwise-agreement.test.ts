/**
 * The fused rotary and SwiGLU kernels of the cpu backend against the JavaScript reference kernels on
 * random strided views (see test/agreement.ts and test/views.ts): float32 products and sums that the
 * native build may contract into FMAs, and SwiGLU's vectorized exponential, within a few ulp.
 */
import type { JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeAgreement, expectSame, js, runs, viewArb } from './agreement.js';
import { contiguous, layoutArb, makeView, shapeArb } from './views.js';

/** Products of up to four factors below 3 in magnitude (and σ's approximation): absolute plus relative. */
const bound = (b: number) => 1e-5 + 1e-5 * Math.abs(b);

/** A view of `shape` laid out by a layout drawn from `seed`. */
function randomView(shape: readonly number[], seed: number, contiguousRows: boolean): View<JsStorage> {
  const layout = fc.sample(layoutArb(shape.length), { seed, numRuns: 1 })[0]!;
  if (!contiguousRows || shape.length === 0) return makeView('float32', shape, layout);
  // The last logical dim innermost in storage with step 1 (rows the native rotary reads with unit
  // strides), the other dims permuted, stepped or broadcast at random.
  const last = shape.length - 1;
  const permutation = layout.permutation.map((p) => (p === last ? layout.permutation[last]! : p));
  permutation[last] = last;
  return makeView('float32', shape, {
    ...layout,
    permutation,
    steps: layout.steps.map((s, d) => (d === last ? 1 : s)),
    broadcast: layout.broadcast.map((b, d) => d !== last && b),
  });
}

describeAgreement("the cpu backend's fused rotary and SwiGLU kernels", (cpu) => {
  it('rotary, forward and transposed: strided x, cos and sin broadcast over any dims', () => {
    fc.assert(
      fc.property(
        shapeArb({ minRank: 0, maxRank: 3, maxDim: 5 }),
        fc.integer({ min: 1, max: 20 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (lead, half, transposed, xRows, angleRows, seed) => {
          const shape = [...lead, 2 * half];
          // Rows contiguous (the row kernel's unit-stride loop) or any layout, for x and for cos/sin.
          const x = randomView(shape, seed, xRows);
          const cos = randomView(shape, seed + 1, angleRows);
          const sin = randomView(shape, seed + 2, angleRows);
          expectSame(cpu.rotary!(x, cos, sin, transposed), js.rotary!(x, cos, sin, transposed), bound);
        },
      ),
      { numRuns: runs * 4 },
    );
  });

  it('rotary of Llama attention layouts, cos/sin [B, 1, T, D] broadcast over heads', () => {
    const [b, t, h, d] = [2, 7, 3, 32];
    const stored = contiguous('float32', [b, t, h, d], 5);
    const xs = [
      // Heads of q_proj's output: [B, T, H, D] → [B, H, T, D].
      { ...stored, shape: [b, h, t, d], strides: [t * h * d, d, h * d, 1] },
      // The gradient of a key, as the backward of q·kᵀ leaves it: [B, H, D, T] transposed.
      { ...stored, shape: [b, h, t, d], strides: [h * d * t, d * t, 1, t] },
    ];
    const cosStored = contiguous('float32', [b, 1, t, d], 6);
    const sinStored = contiguous('float32', [b, 1, t, d], 7);
    const broadcast = (v: View<JsStorage>) => ({ ...v, shape: [b, h, t, d], strides: [t * d, 0, d, 1] });
    for (const x of xs) {
      for (const transposed of [false, true]) {
        const ours = cpu.rotary!(x, broadcast(cosStored), broadcast(sinStored), transposed);
        expectSame(ours, js.rotary!(x, broadcast(cosStored), broadcast(sinStored), transposed), bound);
      }
    }
  });

  it('swiglu and its backward: any layout, broadcasting, either gradient alone', () => {
    fc.assert(
      fc.property(
        viewArb({ zero: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.constantFrom([true, true] as const, [true, false] as const, [false, true] as const),
        ([shape, layout], seed, needs) => {
          const gate = makeView('float32', shape, layout, { scale: 6 });
          const up = randomView(shape, seed, false);
          const grad = randomView(shape, seed + 1, false);
          expectSame(cpu.swiglu!(gate, up), js.swiglu!(gate, up), bound);
          const ours = cpu.swigluBackward!(grad, gate, up, needs);
          const reference = js.swigluBackward!(grad, gate, up, needs);
          expect(ours.gate === null).toBe(!needs[0]);
          expect(ours.up === null).toBe(!needs[1]);
          if (needs[0]) expectSame(ours.gate, reference.gate, bound);
          if (needs[1]) expectSame(ours.up, reference.up, bound);
        },
      ),
      { numRuns: runs * 4 },
    );
  });

  it('swiglu on long rows (the vectorized loops and their remainders) and extreme gates', () => {
    for (const n of [1, 7, 8, 15, 16, 17, 63, 64, 65, 1000]) {
      const gate = contiguous('float32', [n], n, { scale: 40 });
      const up = contiguous('float32', [n], n + 1);
      const grad = contiguous('float32', [n], n + 2);
      expectSame(cpu.swiglu!(gate, up), js.swiglu!(gate, up), bound);
      const ours = cpu.swigluBackward!(grad, gate, up, [true, true]);
      const reference = js.swigluBackward!(grad, gate, up, [true, true]);
      expectSame(ours.gate, reference.gate, bound);
      expectSame(ours.up, reference.up, bound);
    }
  });

  it('names a view that addresses memory outside its storage', () => {
    const x = contiguous('float32', [2, 4], 1);
    const outside = { ...x, offset: 3 };
    expect(() => cpu.rotary!(outside, x, x, false)).toThrow(
      '[cpu backend] rotary: a view of shape [2, 4] with strides [4, 1] at offset 3 addresses elements 3 to 10, but its storage has 10',
    );
    expect(() => cpu.swiglu!(x, outside)).toThrow(
      '[cpu backend] swiglu: a view of shape [2, 4] with strides [4, 1] at offset 3 addresses elements 3 to 10, but its storage has 10',
    );
    expect(() => cpu.swigluBackward!(outside, x, x, [true, false])).toThrow(
      '[cpu backend] swigluBackward: a view of shape [2, 4] with strides [4, 1] at offset 3 addresses elements 3 to 10, but its storage has 10',
    );
  });
});
