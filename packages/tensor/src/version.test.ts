import { describe, expect, it } from 'vitest';
import { adamwStep, noGrad, tensor, zeros } from './index.js';
import { scatterAddInPlace } from './ops/indexing.js';

describe('Tensor.version', () => {
  it('counts in-place writes into the storage, seen by every view', () => {
    const t = zeros([2, 3]);
    const row = t.select(0, 1);
    expect(t.version).toBe(0);
    row.assign(1);
    expect(t.version).toBe(1);
    expect(row.version).toBe(1);
    t.zero();
    expect(row.version).toBe(2);
  });

  it('does not change for out-of-place ops or for a copy', () => {
    const t = tensor([1, 2, 3]);
    const copy = t.clone();
    t.add(1);
    t.assign(5);
    expect(t.version).toBe(1);
    expect(copy.version).toBe(0);
  });

  it('counts in-place scatter-adds and optimizer steps', () => {
    const dst = zeros([2, 2]);
    scatterAddInPlace(dst, 1, tensor([[0], [1]], { dtype: 'int64' }), tensor([[1], [2]]));
    expect(dst.version).toBe(1);
    const param = tensor([1, 2]);
    const before = param.version;
    noGrad(() =>
      adamwStep(param, tensor([0.1, 0.2]), zeros([2]), zeros([2]), null, {
        lr: 0.1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        step: 1,
      }),
    );
    expect(param.version).toBeGreaterThan(before);
  });
});
