import { expect, it } from 'vitest';
import {
  crossEntropy,
  getBackend,
  layerNorm,
  layerNormComposed,
  logSoftmax,
  loraLinear,
  loraLinearComposed,
  manualSeed,
  randint,
  randn,
  rmsNorm,
  rmsNormComposed,
  rotary,
  rotaryComposed,
  type Tensor,
  tensor,
  zeros,
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

  it('crossEntropy (one op with an in-place one-hot backward) against logSoftmax + gather', () => {
    manualSeed(13);
    const logits = randn([6, 11]).setRequiresGrad();
    const target = tensor([3, -100, 0, 10, 3, -100], { dtype: 'int64' });
    const weights = randn([6]);
    const ours = crossEntropy(logits, target, { reduction: 'none' });
    ours.mul(weights).sum().backward();
    const oursGrad = logits.grad!;
    logits.grad = null;
    const valid = target.ne(-100);
    const safe = target.maximum(0).reshape(6, 1);
    const reference = logSoftmax(logits, -1).gather(-1, safe).reshape(6).neg().mul(valid.float());
    reference.mul(weights).sum().backward();
    expect(maxDiff(ours, reference)).toBeLessThan(1e-6);
    expect(maxDiff(oursGrad, logits.grad!)).toBeLessThan(1e-6);
    // The mean over the non-ignored targets.
    expect(crossEntropy(logits, target).item()).toBeCloseTo(reference.sum().item() / 4, 6);
  });

  it('scatterAddInPlace kernel equals scatterAdd into zeros plus the destination', () => {
    const backend = getBackend();
    if (!backend.scatterAddInPlace) return;
    const dst = randn([4, 7]);
    const before = dst.clone();
    const index = randint(0, 7, [4, 3], { dtype: 'int64' });
    const src = randn([4, 3]);
    backend.scatterAddInPlace(dst.view(), 1, index.view(), src.view());
    expect(maxDiff(dst, before.scatterAdd(1, index, src))).toBe(0);
  });

  it('rotary (values bit for bit; gradients of x, cos and sin; broadcast and transposed views)', () => {
    manualSeed(12);
    // x as a transposed view, as attention heads are: [B, T, H, D] → [B, H, T, D].
    const x = randn([2, 5, 3, 8]).transpose(1, 2).detach().setRequiresGrad();
    const cos = randn([2, 1, 5, 8]).setRequiresGrad();
    const sin = randn([5, 8]).setRequiresGrad();
    const ours = rotary(x, cos, sin);
    const composed = rotaryComposed(x, cos, sin);
    expect(ours.shape).toEqual([2, 3, 5, 8]);
    expect(Array.from(ours.toArray() as Float32Array)).toEqual(
      Array.from(composed.toArray() as Float32Array),
    );
    const weights = randn([2, 3, 5, 8]);
    ours.mul(weights).sum().backward();
    const oursGrads = [x.grad!, cos.grad!, sin.grad!];
    x.grad = null;
    cos.grad = null;
    sin.grad = null;
    composed.mul(weights).sum().backward();
    [x.grad!, cos.grad!, sin.grad!].forEach((g, i) => {
      expect(maxDiff(g, oursGrads[i]!) / g.abs().max().item()).toBeLessThan(1e-6);
    });
  });

  it('rotary names a bad shape', () => {
    expect(() => rotary(zeros([2, 5]), zeros([5]), zeros([5]))).toThrow(
      '[rotary] x needs an even last dim, received [2, 5]',
    );
    expect(() => rotary(zeros([2, 4]), zeros([3, 2, 4]), zeros([4]))).toThrow(
      '[rotary] cos [3, 2, 4] must broadcast to x [2, 4] without growing it',
    );
  });
});
