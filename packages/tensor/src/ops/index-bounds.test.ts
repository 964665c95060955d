import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crossEntropy,
  embedding,
  getBackend,
  randn,
  registerBackend,
  ShapeError,
  type Tensor,
  tensor,
  unregisterBackend,
  withBackend,
  zeros,
} from '../index.js';
import { createOpaqueBackend } from '../testing/opaque-backend.js';
import { gather, indexSelect, scatterAdd } from './indexing.js';

const ids = (values: number[]) => tensor(values, { dtype: 'int64' });

/** Every op that takes indices, called with `bad` (or good indices when undefined) somewhere. */
const OPS: readonly [string, (bad: number | undefined) => Tensor, string][] = [
  ['gather', (bad) => gather(zeros([3, 2]), 0, ids([0, bad ?? 2]).reshape(1, 2)), 'dimension 0 of size 3'],
  ['indexSelect', (bad) => indexSelect(zeros([2, 4]), 1, ids([bad ?? 3, 1])), 'dimension 1 of size 4'],
  ['indexSelect', (bad) => embedding(ids([1, bad ?? 0]), zeros([5, 2])), 'dimension 0 of size 5'],
  [
    'scatterAdd',
    (bad) => scatterAdd(zeros([3]), 0, ids([2, bad ?? 0, 1]), tensor([1, 2, 3])),
    'dimension 0 of size 3',
  ],
];

describe('index bounds on the host (js)', () => {
  it('throw at the op with the op, the bad value and the valid range', () => {
    withBackend('js', () => {
      for (const [op, run, range] of OPS) {
        expect(() => run(-1)).toThrow(new ShapeError(`[${op}] index -1 is out of range for ${range}`));
        expect(() => run(7)).toThrow(`[${op}] index 7 is out of range for ${range}`);
      }
      expect(() => crossEntropy(zeros([2, 3]), ids([1, 3]))).toThrow(
        '[crossEntropy] target 3 is out of range for 3 classes (ignore_index is -100)',
      );
    });
  });
});

describe('index bounds on a device-like backend (opaque)', () => {
  const name = 'opaque-bounds';
  const backend = createOpaqueBackend(name);
  beforeAll(() => registerBackend(backend, -2));
  afterAll(() => unregisterBackend(name));
  const on = <T>(fn: () => T): T => withBackend(name, fn);

  it('are checked without a host read', () => {
    on(() => {
      const logits = randn([4, 5]).setRequiresGrad();
      const before = backend.transfers.toHost;
      for (const [, run] of OPS) run(undefined);
      const loss = crossEntropy(logits, ids([0, 4, -100, 2]));
      crossEntropy(logits, ids([0, 4, 1, 2]), { labelSmoothing: 0.1, reduction: 'sum' });
      crossEntropy(logits.reshape(2, 5, 2), ids([0, 4, -100, 2]).reshape(2, 2));
      loss.backward();
      expect(backend.transfers.toHost).toBe(before);
    });
  });

  it('raise the same error at the next host read, then reads work again', () => {
    on(() => {
      for (const [op, run, range] of OPS) {
        for (const bad of [-1, 7]) {
          const out = run(bad);
          expect(getBackend(name).checkIndexBounds).toBeDefined();
          expect(() => out.toArray()).toThrow(
            new ShapeError(`[${op}] index ${bad} is out of range for ${range}`),
          );
          expect(zeros([1]).toList()).toEqual([0]);
        }
      }
    });
  });

  it('report the first failing value of the earliest failed check', () => {
    on(() => {
      indexSelect(zeros([4]), 0, ids([1, 9, -3]));
      gather(zeros([2]), 0, ids([5]));
      expect(() => zeros([1]).item()).toThrow(
        '[indexSelect] index 9 is out of range for dimension 0 of size 4',
      );
      expect(zeros([1]).item()).toBe(0);
    });
  });

  it('crossEntropy: targets may equal ignore_index; others fail at the next read', () => {
    on(() => {
      const logits = zeros([3, 4]);
      const loss = crossEntropy(logits, ids([3, -7, 0]), { ignoreIndex: -7 });
      expect(loss.item()).toBeCloseTo(Math.log(4), 6);
      const bad = crossEntropy(logits, ids([3, -100, 4]), { ignoreIndex: -7 });
      expect(() => bad.item()).toThrow(
        new ShapeError('[crossEntropy] target -100 is out of range for 4 classes (ignore_index is -7)'),
      );
      // Every target ignored: 0/0, as PyTorch.
      expect(crossEntropy(logits, ids([-100, -100, -100])).item()).toBeNaN();
    });
  });

  it('crossEntropy gives the host path values, with and without ignored targets', () => {
    const logits = randn([6, 5]);
    const values = logits.toArray() as Float32Array;
    for (const targets of [
      [0, 4, 1, 2, 3, 3],
      [0, -100, 1, -100, 4, 2],
    ]) {
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        for (const labelSmoothing of [0, 0.2]) {
          const options = { reduction, labelSmoothing };
          const host = withBackend('js', () =>
            crossEntropy(tensor(values, { shape: [6, 5] }), ids(targets), options),
          );
          const device = on(() => crossEntropy(tensor(values, { shape: [6, 5] }), ids(targets), options));
          expect(Array.from(device.toArray() as Float32Array)).toEqual(
            Array.from(host.toArray() as Float32Array),
          );
        }
      }
    }
  });
});
