import { expect, it } from 'vitest';
import {
  type AdamWStepOptions,
  adamwStep,
  adamwStepComposed,
  type Dtype,
  manualSeed,
  noGrad,
  randn,
  type Tensor,
  zeros,
} from '../index.js';
import { describeEachBackend } from '../testing/backends.js';

function run(
  update: typeof adamwStep,
  dtype: Dtype,
  amsgrad: boolean,
  options: Omit<AdamWStepOptions, 'step'>,
): Tensor[] {
  manualSeed(5);
  const param = randn([7, 13], { dtype });
  const state = [zeros([7, 13], { dtype }), zeros([7, 13], { dtype })];
  const max = amsgrad ? zeros([7, 13], { dtype }) : null;
  noGrad(() => {
    for (let step = 1; step <= 4; step++) {
      // A transposed gradient exercises the contiguous copy before the fused kernel.
      const grad = randn([13, 7], { dtype, std: step === 3 ? 1e-3 : 1 }).T;
      update(param, grad, state[0]!, state[1]!, max, { ...options, step });
    }
  });
  return [param, ...state, ...(max ? [max] : [])];
}

describeEachBackend('adamwStep', () => {
  const cases: [string, Dtype, boolean, Omit<AdamWStepOptions, 'step'>][] = [
    [
      'float32, weight decay',
      'float32',
      false,
      { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 },
    ],
    [
      'float32, no weight decay',
      'float32',
      false,
      { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
    ],
    [
      'float32, AMSGrad, β₁ < 0.5',
      'float32',
      true,
      { lr: 3e-3, beta1: 0.3, beta2: 0.99, eps: 1e-6, weightDecay: 0 },
    ],
    ['float64', 'float64', true, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }],
  ];
  for (const [name, dtype, amsgrad, options] of cases) {
    it(`the fused update equals the composed ops bit for bit (${name})`, () => {
      const fused = run(adamwStep, dtype, amsgrad, options);
      const composed = run(adamwStepComposed, dtype, amsgrad, options);
      fused.forEach((t, i) => {
        expect(t.dtype).toBe(dtype);
        expect(Array.from(t.toArray() as Float32Array)).toEqual(
          Array.from(composed[i]!.toArray() as Float32Array),
        );
      });
    });
  }

  it('names the tensor whose shape differs from the parameter', () => {
    const p = zeros([2, 3]);
    expect(() =>
      adamwStep(p, zeros([2, 3]), zeros([3, 2]), zeros([2, 3]), null, {
        lr: 1,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0,
        step: 1,
      }),
    ).toThrow('[adamwStep] expAvg has shape [3, 2], the parameter [2, 3]');
  });
});
