/**
 * The cpu backend's attention softmax kernels against the JavaScript references: scores as the matrix
 * products leave them (contiguous), biases broadcast the ways attention masks are ([1, 1, T, S] causal
 * masks, [B, 1, T, S] padding masks, full ones), causal or not, with and without cached keys. float32
 * with a vectorized exponential: within a few ulp of the float64 reference.
 */
import type { JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeAgreement, expectSame, js, runs } from './agreement.js';
import { contiguous } from './views.js';

const bound = (b: number) => 2e-6 + 1e-5 * Math.abs(b);

/** `view` broadcast to `shape` over the dims where it has size 1 (stride 0). */
function broadcast(view: View<JsStorage>, shape: readonly number[]): View<JsStorage> {
  return {
    ...view,
    shape,
    strides: view.shape.map((d, i) => (d === 1 && shape[i] !== 1 ? 0 : view.strides[i]!)),
  };
}

describeAgreement("the cpu backend's attention softmax kernels", (cpu) => {
  it('softmax(scale·x + bias) over the allowed keys, for every bias broadcast and causal setting', () => {
    fc.assert(
      fc.property(
        fc.tuple(
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: 0, max: 40 }),
        ),
        fc.constantFrom('none', 'shared', 'batch', 'full'),
        fc.boolean(),
        fc.double({ min: 0.05, max: 2, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        ([batch, heads, queries, cached], biasKind, causal, scale, seed) => {
          const keys = queries + cached;
          const shape = [batch, heads, queries, keys];
          const x = contiguous('float32', shape, seed);
          const biasShape =
            biasKind === 'shared'
              ? [1, 1, queries, keys]
              : biasKind === 'batch'
                ? [batch, 1, queries, keys]
                : shape;
          const bias =
            biasKind === 'none' ? null : broadcast(contiguous('float32', biasShape, seed + 1), shape);
          expectSame(
            cpu.attentionSoftmax!(x, scale, bias, causal),
            js.attentionSoftmax!(x, scale, bias, causal),
            bound,
          );
        },
      ),
      { numRuns: runs * 4 },
    );
  });

  it('gives excluded keys exactly 0 and each row a sum of 1', () => {
    const [queries, keys] = [5, 8];
    const x = contiguous('float32', [1, 1, queries, keys], 3);
    const probs = cpu.attentionSoftmax!(x, 1, null, true) as Float32Array;
    for (let i = 0; i < queries; i++) {
      const row = probs.subarray(i * keys, (i + 1) * keys);
      const allowed = i + keys - queries + 1;
      expect([...row.subarray(allowed)].every((p) => p === 0)).toBe(true);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    }
  });

  it('scale · p ∘ (g − Σ g∘p), rows of any length', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 70 }),
        fc.double({ min: 0.05, max: 2, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (rows, keys, scale, seed) => {
          const grad = contiguous('float32', [rows, keys], seed);
          // Rows of probabilities, as the forward leaves them (the kernel's domain: Σ g∘p is then a
          // weighted mean of g and float32 accumulation stays accurate).
          const scores = contiguous('float32', [1, 1, rows, keys], seed + 1);
          const probs: View<JsStorage> = {
            ...scores,
            storage: js.attentionSoftmax!(scores, 1, null, false),
            shape: [rows, keys],
            strides: [keys, 1],
            offset: 0,
          };
          expectSame(
            cpu.attentionSoftmaxBackward!(grad, probs, scale),
            js.attentionSoftmaxBackward!(grad, probs, scale),
            bound,
          );
        },
      ),
      { numRuns: runs * 2 },
    );
  });

  it('falls back to the reference for layouts it does not read natively', () => {
    const x = contiguous('float32', [2, 2, 3, 4], 7);
    const transposed = { ...x, shape: [2, 2, 4, 3], strides: [24, 12, 1, 4] };
    expectSame(
      cpu.attentionSoftmax!(transposed, 0.5, null, false),
      js.attentionSoftmax!(transposed, 0.5, null, false),
    );
    const float64 = contiguous('float64', [1, 1, 2, 3], 8);
    expectSame(cpu.attentionSoftmax!(float64, 1, null, true), js.attentionSoftmax!(float64, 1, null, true));
  });

  it('rejects a view that points outside its buffer', () => {
    const x = contiguous('float32', [1, 1, 2, 4], 9);
    const outside = { ...x, offset: 3 };
    expect(() => cpu.attentionSoftmax!(outside, 1, null, false)).toThrow(
      '[cpu backend] attentionSoftmax: a view of shape [1, 1, 2, 4] with strides [8, 8, 4, 1] at offset 3 addresses elements 3 to 10, but its storage has 10',
    );
  });
});
