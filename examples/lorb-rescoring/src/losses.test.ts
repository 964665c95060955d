import { randn, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { correlationLoss, mwerLoss } from './losses.js';

describe('MWER loss', () => {
  it('is the expected errors relative to the list mean under softmax(−cost)', () => {
    const costs = tensor([[0, Math.log(3)]]); // P = [0.75, 0.25]
    const errors = tensor([[2, 0]]); // mean 1: relative [1, −1]
    expect(mwerLoss(costs, errors).item()).toBeCloseTo(0.75 - 0.25, 6);
    // Two utterances are averaged.
    const two = mwerLoss(
      tensor([
        [0, Math.log(3)],
        [0, 0],
      ]),
      tensor([
        [2, 0],
        [1, 1],
      ]),
    );
    expect(two.item()).toBeCloseTo(0.25, 6);
  });

  it('its gradient lowers the cost of the hypothesis with fewer errors', () => {
    const costs = tensor([[0.5, 0.2, 0.9]], { requiresGrad: true });
    mwerLoss(costs, tensor([[0, 3, 1]])).backward();
    const grad = Array.from(costs.grad!.toArray() as Float32Array);
    // dL/dc_j = −P_j·(ε_j − E_P[ε]): positive for a better-than-expected hypothesis, so descent lowers
    // its cost; negative for the worst one, whose cost rises.
    expect(grad[0]).toBeGreaterThan(0);
    expect(grad[1]).toBeLessThan(0);
  });

  it('names mismatched shapes', () => {
    expect(() => mwerLoss(tensor([[1, 2]]), tensor([[1, 2, 3]]))).toThrow(
      '[mwerLoss] costs and errors must both be [utterances, hypotheses], received [1, 2] and [1, 3]',
    );
  });
});

describe('correlation loss', () => {
  it('is ~0 for uncorrelated features and large for perfectly correlated ones', () => {
    // Columns ±1 patterns that are orthogonal and centred: correlation matrix = identity.
    const orthogonal = tensor([
      [1, 1],
      [1, -1],
      [-1, 1],
      [-1, -1],
    ]);
    expect(correlationLoss(orthogonal).item()).toBeLessThan(1e-6);
    const x = randn([16, 1]);
    const correlated = x.mul(tensor([[1, 2, -3]]));
    // Off-diagonal correlations ±1: 6 of 9 entries off by 1.
    expect(correlationLoss(correlated).item()).toBeCloseTo(6 / 9, 3);
  });

  it('needs at least two rows', () => {
    expect(() => correlationLoss(tensor([[1, 2]]))).toThrow(
      '[correlationLoss] hidden must be [rows ≥ 2, features], received [1, 2]',
    );
  });
});
