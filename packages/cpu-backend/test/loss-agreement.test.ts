/**
 * The cpu backend's softmax cross-entropy gradient against the JavaScript reference: rows of
 * log-probabilities (contiguous rows, possibly a row stride wider than the rows), incoming gradients of
 * any stride (0 for a mean's broadcast one), targets anywhere in the row. The native exp is within a few
 * ulp of the reference's.
 */
import type { JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeAgreement, expectSame, js, runs } from './agreement.js';
import { contiguous } from './views.js';

// A few ulp of exp(x)·g (below 3·e), which the subtraction at the target can leave in a smaller result.
const bound = (b: number) => 5e-6 + 1e-6 * Math.abs(b);

describeAgreement("the cpu backend's softmax cross-entropy gradient", (cpu) => {
  it('exp(logProbs)·g − onehot(target)·g', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 0, max: 3 }),
        fc.constantFrom(0, 1, 2),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (rows, classes, padding, gradStride, seed) => {
          // Values in [-1, 1) in rows `classes + padding` apart (the kernel does not need them to be ≤ 0).
          const stored = contiguous('float32', [rows, classes + padding], seed, { scale: 1 });
          const logProbs: View<JsStorage> = { ...stored, shape: [rows, classes] };
          const g = contiguous('float32', [Math.max(1, rows * gradStride)], seed + 1);
          const grad: View<JsStorage> = { ...g, shape: [rows], strides: [gradStride] };
          const targets = Float64Array.from({ length: rows }, (_, i) => (seed + 7 * i) % classes);
          const target: View<JsStorage> = {
            storage: targets,
            dtype: 'int64',
            shape: [rows, 1],
            strides: [1, 1],
            offset: 0,
          };
          expectSame(
            cpu.softmaxCrossEntropyBackward!(logProbs, grad, target),
            js.softmaxCrossEntropyBackward!(logProbs, grad, target),
            bound,
          );
        },
      ),
      { numRuns: runs * 2 },
    );
  });

  it('rejects a view that points outside its buffer', () => {
    const logProbs = { ...contiguous('float32', [2, 4], 3), offset: 3 };
    const grad = contiguous('float32', [2], 4);
    const target: View<JsStorage> = {
      storage: new Float64Array([0, 1]),
      dtype: 'int64',
      shape: [2, 1],
      strides: [1, 1],
      offset: 0,
    };
    expect(() => cpu.softmaxCrossEntropyBackward!(logProbs, grad, target)).toThrow(
      '[cpu backend] softmaxCrossEntropyBackward: a view of shape [2, 4] with strides [4, 1] at offset 3 addresses elements 3 to 10, but its storage has 10',
    );
  });
});
