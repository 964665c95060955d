import { describe, expect, it } from 'vitest';
import {
  type AdamWStepOptions,
  type AdamWTensors,
  adamwStep,
  adamwStepComposed,
  adamwStepMulti,
  type Dtype,
  getBackend,
  manualSeed,
  noGrad,
  randn,
  registerBackend,
  type Tensor,
  unregisterBackend,
  withBackend,
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

/**
 * Three float32 parameters (one with a transposed gradient), one float64 and one whose moment buffer is a
 * transposed view (not fusable), updated for three steps by `update`.
 */
function runMany(update: (items: AdamWTensors<Tensor>[], options: AdamWStepOptions) => void): number[][] {
  manualSeed(9);
  const make = (shape: number[], dtype: Dtype, transposedState = false) => {
    const state = () =>
      transposedState ? zeros([...shape].reverse(), { dtype }).T : zeros(shape, { dtype });
    return {
      param: randn(shape, { dtype }),
      expAvg: state(),
      expAvgSq: state(),
      maxExpAvgSq: zeros(shape, { dtype }),
    };
  };
  const params = [
    make([4, 3], 'float32'),
    make([5], 'float32'),
    make([2, 2, 2], 'float32'),
    make([6], 'float64'),
    make([3, 4], 'float32', true),
  ];
  noGrad(() => {
    for (let step = 1; step <= 3; step++) {
      const items = params.map((p, i) => ({
        ...p,
        grad:
          i === 0
            ? randn([3, 4], { dtype: p.param.dtype }).T
            : randn(p.param.shape, { dtype: p.param.dtype }),
      }));
      update(items, { lr: 1e-2, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1, step });
    }
  });
  return params.flatMap((p) =>
    [p.param, p.expAvg, p.expAvgSq, p.maxExpAvgSq].map((t) =>
      Array.from(t.cast('float64').toArray() as Float64Array),
    ),
  );
}

const oneByOne = (items: AdamWTensors<Tensor>[], options: AdamWStepOptions) => {
  for (const t of items) adamwStep(t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq, options);
};

describeEachBackend('adamwStepMulti', () => {
  it('gives every parameter the values of its own adamwStep', () => {
    expect(runMany(adamwStepMulti)).toEqual(runMany(oneByOne));
  });
});

describe('adamwStepMulti over a backend with the multi-tensor kernel', () => {
  it('batches the fusable parameters per dtype and updates the others one by one, with the same values', () => {
    const name = 'js-adamw-multi';
    const js = getBackend('js');
    const batches: number[][] = [];
    registerBackend({
      ...js,
      name,
      adamwStepMulti: (items, options) => {
        batches.push(items.map((t) => t.param.shape.reduce((a, b) => a * b, 1)));
        for (const t of items) js.adamwStep!(t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq, options);
      },
    });
    try {
      const expected = runMany(oneByOne);
      const actual = withBackend(name, () => runMany(adamwStepMulti));
      expect(actual).toEqual(expected);
      // Per step: one float32 batch of three parameters and one float64 batch; the transposed state alone.
      expect(batches).toEqual([[12, 5, 8], [6], [12, 5, 8], [6], [12, 5, 8], [6]]);
    } finally {
      unregisterBackend(name);
    }
  });
});
