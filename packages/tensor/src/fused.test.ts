import { expect, it } from 'vitest';
import {
  layerNorm,
  layerNormComposed,
  loraLinear,
  loraLinearComposed,
  manualSeed,
  randn,
  rmsNorm,
  rmsNormComposed,
  type Tensor,
} from './index.js';
import { describeEachBackend } from './testing/backends.js';

function maxDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

describeEachBackend('fused kernels agree with their composed references', () => {
  it('rmsNorm, layerNorm and loraLinear (values and gradients)', () => {
    manualSeed(11);
    const x = randn([4, 6, 32]).setRequiresGrad();
    const w = randn([32]).setRequiresGrad();
    const b = randn([32]).setRequiresGrad();
    expect(maxDiff(rmsNorm(x, w), rmsNormComposed(x, w))).toBeLessThan(1e-5);
    expect(maxDiff(layerNorm(x, [32], w, b), layerNormComposed(x, [32], w, b))).toBeLessThan(1e-5);
    const weight = randn([24, 32]);
    const a = randn([4, 32], { std: 0.1 }).setRequiresGrad();
    const bb = randn([24, 4], { std: 0.1 }).setRequiresGrad();
    const bias = randn([24]);
    const fused = loraLinear(x, weight, bias, a, bb, 2);
    const composed = loraLinearComposed(x, weight, bias, a, bb, 2);
    expect(fused.shape).toEqual([4, 6, 24]);
    expect(maxDiff(fused, composed)).toBeLessThan(1e-4);
    fused.square().sum().backward();
    const fusedGrads = [x.grad!, a.grad!, bb.grad!];
    x.grad = null;
    a.grad = null;
    bb.grad = null;
    composed.square().sum().backward();
    [x.grad!, a.grad!, bb.grad!].forEach((g, i) => {
      expect(maxDiff(g, fusedGrads[i]!) / g.abs().max().item()).toBeLessThan(1e-5);
    });
  });
});
