import { join } from 'node:path';
import { bernoulli, Generator, readTensorFile, type Tensor, tensor } from '@lorakit/tensor';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { magnitudePrune } from './prune.js';
import { disjointMerge, majoritySignMask } from './sign-election.js';
import { dareLinear, dareTies, magnitudePruneMerge, taskArithmetic, ties } from './task-merges.js';

/** PEFT's merge_utils on random tensors (test-data/generate.py). */
const peft = readTensorFile(join(import.meta.dirname, '..', '..', 'test-data', 'merge_utils.safetensors'));
const t = [0, 1, 2].map((i) => peft.get(`t${i}`)!);
const w = [0.7, -0.4, 1.3];

function expectEqual(actual: Tensor, expected: Tensor, atol = 1e-6): void {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.toArray() as Float32Array;
  const e = expected.toArray() as Float32Array;
  for (let i = 0; i < e.length; i++)
    expect(Math.abs(a[i]! - e[i]!), `element ${i}`).toBeLessThanOrEqual(atol);
}

describe("equal to PEFT's merge_utils", () => {
  it.each(['0.0', '0.3', '0.5', '0.95'])('magnitude_based_pruning at density %s', (d) => {
    expectEqual(magnitudePrune(t[0]!, Number(d)), peft.get(`magnitude_based_pruning.${d}`)!, 0);
  });

  it.each(['total', 'frequency'] as const)(
    'calculate_majority_sign_mask, disjoint_merge and ties (%s)',
    (method) => {
      const pruned = t.map((x) => magnitudePrune(x, 0.5));
      const mask = majoritySignMask(pruned, method);
      expectEqual(mask.cast('float32'), peft.get(`majority_sign_mask.${method}`)!, 0);
      expectEqual(
        disjointMerge(
          pruned.map((x, i) => x.mul(w[i]!)),
          mask,
        ),
        peft.get(`disjoint_merge.${method}`)!,
      );
      expectEqual(ties(t, w, 0.5, method), peft.get(`ties.${method}`)!);
    },
  );

  it('task_arithmetic and magnitude_prune', () => {
    expectEqual(taskArithmetic(t, w), peft.get('task_arithmetic')!);
    expectEqual(magnitudePruneMerge(t, w, 0.3), peft.get('magnitude_prune')!);
  });
});

describe('ties (spec §11 probe values)', () => {
  const x = [tensor([1, -2, 3, -4]), tensor([-1, 2, 0.5, 4])];
  it('density 1: no trim, election ignores weights, mean over agreeing entries', () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    expect(ties(x, [1, 1], 1).toList()).toEqual([1, 2, 1.75, 4]);
    expect(ties(x, [1, -1], 1).toList()).toEqual([1, -2, 1.25, -4]);
    vi.restoreAllMocks();
  });
});

describe('properties', () => {
  const tensors = (n: number, size: number) =>
    fc.array(fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: size, maxLength: size }), {
      minLength: n,
      maxLength: n,
    });
  const weights = (n: number) =>
    fc.array(fc.double({ min: -2, max: 2, noNaN: true }), { minLength: n, maxLength: n });

  it('taskArithmetic is Σ wᵢtᵢ; magnitudePruneMerge at density ≥ 1 is taskArithmetic', () => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(tensors(n, 6), weights(n))),
        ([values, ws]) => {
          const ts = values.map((v) => tensor(Float32Array.from(v)));
          const sum = taskArithmetic(ts, ws).toArray() as Float32Array;
          for (let j = 0; j < 6; j++) {
            const expected = values.reduce((s, v, i) => s + Math.fround(v[j]!) * ws[i]!, 0);
            expect(Math.abs(sum[j]! - expected)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(expected)));
          }
          expect(magnitudePruneMerge(ts, ws, 1).toArray()).toEqual(sum);
        },
      ),
      { numRuns: 100 },
    );
    vi.restoreAllMocks();
  });

  it('ties: every entry is 0 or the mean of the weighted trimmed values whose sign won', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }).chain((n) => fc.tuple(tensors(n, 8), weights(n))),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        ([values, ws], density) => {
          const ts = values.map((v) => tensor(Float32Array.from(v)));
          const trimmed = ts.map((x) => magnitudePrune(x, density).toArray() as Float32Array);
          const merged = ties(ts, ws, density).toArray() as Float32Array;
          for (let j = 0; j < 8; j++) {
            const total = trimmed.reduce((s, x) => s + x[j]!, 0);
            const sign = total >= 0 ? 1 : -1;
            const agreeing = trimmed
              .map((x, i) => [x[j]!, ws[i]!] as const)
              .filter(([v]) => Math.sign(v) === sign);
            const expected = agreeing.reduce((s, [v, wi]) => s + v * wi, 0) / Math.max(1, agreeing.length);
            expect(Math.abs(merged[j]! - expected)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(expected)));
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('DARE', () => {
  const x = [
    tensor(Float32Array.from({ length: 4000 }, (_, i) => (i % 13) - 6.5)),
    tensor(Float32Array.from({ length: 4000 }, (_, i) => (i % 7) - 3)),
  ];

  it('dareLinear is Σ wᵢ·dropped(tᵢ)/density with the masks of the generator, in order', () => {
    const merged = dareLinear(x, [0.5, 2], 0.3, { generator: new Generator(5) });
    const g = new Generator(5);
    const expected = x
      .map((xi, i) => {
        const keep = dropMask(xi.size, 0.3, g);
        return xi.mul(keep).div(0.3).mul([0.5, 2][i]!);
      })
      .reduce((s, v) => s.add(v));
    expectEqual(merged, expected, 1e-5);
  });

  it('dareTies elects signs on the rescaled dropped tensors; seeds reproduce', () => {
    const a = dareTies(x, [1, -1], 0.5, 'frequency', { generator: new Generator(9) });
    const b = dareTies(x, [1, -1], 0.5, 'frequency', { generator: new Generator(9) });
    expect(a.toArray()).toEqual(b.toArray());
    const g = new Generator(9);
    const dropped = x.map((xi) => xi.mul(dropMask(xi.size, 0.5, g)).div(0.5));
    const expected = disjointMerge(
      [dropped[0]!, dropped[1]!.mul(-1)],
      majoritySignMask(dropped, 'frequency'),
    );
    expectEqual(a, expected, 1e-6);
  });
});

function dropMask(size: number, density: number, generator: Generator): Tensor {
  return bernoulli([size], density, { generator });
}

describe('argument errors', () => {
  it('names the operation and what is wrong', () => {
    const a = tensor([1, 2]);
    expect(() => taskArithmetic([a, a], [1])).toThrow(
      '[taskArithmetic] needs one weight per tensor: received 2 tensors and 1 weights',
    );
    expect(() => taskArithmetic([a], [Number.NaN])).toThrow(
      '[taskArithmetic] weights must be finite numbers, received NaN at index 0',
    );
    expect(() => ties([a, a], [1, 1], undefined as never)).toThrow(
      '[ties] density must be a number, the fraction of entries to keep in [0, 1]; received undefined',
    );
    expect(() => ties([a, a], [1, 1], 0.5, 'sum' as never)).toThrow(
      '[ties] unknown majority_sign_method "sum"; valid methods: total, frequency',
    );
    expect(() => dareLinear([a, tensor([1])], [1, 1], 0.5)).toThrow(
      '[dareLinear] all tensors need the same shape, received [2], [1]',
    );
    expect(() => taskArithmetic([], [])).toThrow('[taskArithmetic] needs at least one tensor');
  });
});
