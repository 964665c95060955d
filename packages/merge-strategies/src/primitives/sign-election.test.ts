import { type Tensor, tensor } from '@lorakit/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { disjointMerge, majoritySignMask } from './sign-election.js';

describe('majoritySignMask', () => {
  // The spec's probe: column sums 0, 0, 3.5, 0 are all ≥ 0, so + is elected everywhere.
  const t = [tensor([1, -2, 3, -4]), tensor([-1, 2, 0.5, 4])];

  it.each(['total', 'frequency'] as const)('%s: ties elect +, masks mark agreeing entries', (method) => {
    expect(majoritySignMask(t, method).toList()).toEqual([
      [1, 0, 1, 0],
      [0, 1, 1, 1],
    ]);
  });

  it("'total' sums values, 'frequency' counts signs", () => {
    const x = [tensor([5]), tensor([-1]), tensor([-1])];
    expect(majoritySignMask(x, 'total').toList()).toEqual([[1], [0], [0]]);
    expect(majoritySignMask(x, 'frequency').toList()).toEqual([[0], [1], [1]]);
  });

  it('zeros (pruned entries) never agree', () => {
    expect(majoritySignMask([tensor([0, 0]), tensor([0, -1])]).toList()).toEqual([
      [0, 0],
      [0, 1],
    ]);
  });

  it('errors name the method, the shapes and an empty list', () => {
    expect(() => majoritySignMask(t, 'mean' as never)).toThrow(
      '[majoritySignMask] unknown majority_sign_method "mean"; valid methods: total, frequency',
    );
    expect(() => majoritySignMask([tensor([1, 2]), tensor([1])])).toThrow(
      '[majoritySignMask] all tensors need the same shape, received [2], [1]',
    );
    expect(() => majoritySignMask([])).toThrow('[majoritySignMask] needs at least one tensor');
  });
});

describe('disjointMerge', () => {
  it('is the mean over agreeing contributors, 0 where none agrees', () => {
    const x = [tensor([1, -2, 3, 0]), tensor([3, 2, -1, 0])];
    const mask = tensor(
      [
        [true, false, true, false],
        [true, true, false, false],
      ],
      { dtype: 'bool' },
    );
    expect(disjointMerge(x, mask).toList()).toEqual([2, 2, 3, 0]);
  });

  it('property: with every entry agreeing it is the mean; with one row agreeing it is that row', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 12 }),
        (n, base) => {
          const rows: Tensor[] = Array.from({ length: n }, (_, i) =>
            tensor(Float32Array.from(base, (v) => v * (i + 1))),
          );
          const all = tensor(new Uint8Array(n * base.length).fill(1), {
            shape: [n, base.length],
            dtype: 'bool',
          });
          const mean = disjointMerge(rows, all).toArray() as Float32Array;
          for (const [j, v] of base.entries()) expect(mean[j]).toBeCloseTo((v * (n + 1)) / 2, 3);
          const firstOnly = tensor(
            Uint8Array.from({ length: n * base.length }, (_, k) => (k < base.length ? 1 : 0)),
            { shape: [n, base.length], dtype: 'bool' },
          );
          expect(Array.from(disjointMerge(rows, firstOnly).toArray() as Float32Array, (v) => v + 0)).toEqual(
            Array.from(rows[0]!.toArray() as Float32Array, (v) => v + 0),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('checks the mask shape', () => {
    expect(() => disjointMerge([tensor([1, 2])], tensor([true, false]))).toThrow(
      '[disjointMerge] mask must have shape [1, 2] (one row per tensor), received [2]',
    );
  });
});
