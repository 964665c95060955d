import { describe, expect, it } from 'vitest';
import {
  crossEntropy,
  getBackend,
  layerNorm,
  layerNormComposed,
  linear,
  logSoftmax,
  loraLinear,
  loraLinearComposed,
  manualSeed,
  randint,
  randn,
  registerBackend,
  rmsNorm,
  rmsNormComposed,
  rotary,
  rotaryComposed,
  swiglu,
  swigluComposed,
  type Tensor,
  tensor,
  unregisterBackend,
  withBackend,
  zeros,
} from './index.js';
import { scatterAddInPlace } from './ops/indexing.js';
import { describeEachBackend } from './testing/backends.js';

function maxDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

/** The largest difference relative to the reference's largest magnitude. */
function relativeDiff(actual: Tensor, reference: Tensor): number {
  return maxDiff(actual, reference) / reference.abs().max().item();
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

  it("loraLinear with float32 factors on a bfloat16 layer equals PEFT's casts (values and gradients)", () => {
    manualSeed(29);
    const x = randn([3, 4, 16]).cast('bfloat16').setRequiresGrad();
    const weight = randn([12, 16]).cast('bfloat16').setRequiresGrad();
    const bias = randn([12]).cast('bfloat16').setRequiresGrad();
    const a = randn([4, 16], { std: 0.3 }).setRequiresGrad();
    const b = randn([12, 4], { std: 0.3 }).setRequiresGrad();
    const ours = loraLinear(x, weight, bias, a, b, 2);
    // PEFT: result = base(x); result + lora_B(lora_A(x.to(A.dtype))) * s, then .to(result.dtype).
    const reference = linear(x, weight, bias)
      .add(linear(linear(x.cast('float32'), a), b).mul(2))
      .cast('bfloat16');
    expect(ours.dtype).toBe('bfloat16');
    expect(ours.shape).toEqual([3, 4, 12]);
    // Composed, it is the same ops; a backend's loraExpand kernel sums the products in another order.
    if (x.backend.loraExpand) expect(relativeDiff(ours.float(), reference.float())).toBeLessThan(2 ** -7);
    else expect(maxDiff(ours.float(), reference.float())).toBe(0);
    const g = randn([3, 4, 12]).cast('bfloat16');
    ours.mul(g).sum().backward();
    const grads = [x, weight, bias, a, b].map((t) => {
      const value = t.grad!;
      t.grad = null;
      return value;
    });
    reference.mul(g).sum().backward();
    [x, weight, bias, a, b].forEach((t, i) => {
      expect(grads[i]!.dtype).toBe(t.dtype);
      expect(relativeDiff(grads[i]!.float(), t.grad!.float())).toBeLessThan(1e-2);
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

  it('softmaxCrossEntropyBackward kernel equals exp(logProbs)·g minus the one-hot part', () => {
    const backend = getBackend();
    if (!backend.softmaxCrossEntropyBackward) return;
    for (const dtype of ['float32', 'float64'] as const) {
      const logProbs = logSoftmax(randn([5, 9], { dtype }), -1);
      // A strided gradient (every other element of a longer vector), as a reduction's backward gives.
      const grad = randn([10], { dtype }).narrow(0, 0, 10).reshape(5, 2).select(1, 0);
      const target = tensor([[8], [0], [3], [3], [1]], { dtype: 'int64' });
      const storage = backend.softmaxCrossEntropyBackward(logProbs.view(), grad.view(), target.view());
      const ours = backend.toHost({ storage, dtype, shape: [5, 9], strides: [9, 1], offset: 0 });
      const composed = logProbs.exp().mul(grad.reshape(5, 1));
      scatterAddInPlace(composed, 1, target, grad.reshape(5, 1).neg());
      const expected = composed.toArray() as Float32Array;
      const actual = ours as Float32Array;
      // Same operations in the same order; a native exp may differ from the reference's in the last ulp.
      const ulp = dtype === 'float32' ? 4e-7 : 1e-15;
      for (let i = 0; i < expected.length; i++) {
        expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(
          ulp * Math.max(1, Math.abs(expected[i]!)),
        );
      }
    }
  });

  it('scatterAddInPlace kernel equals scatterAdd into zeros plus the destination', () => {
    const backend = getBackend();
    if (!backend.scatterAddInPlace) return;
    const dst = randn([4, 7]);
    const before = dst.clone();
    const index = randint(0, 7, [4, 3], { dtype: 'int64' });
    const src = randn([4, 3]);
    backend.scatterAddInPlace(dst.view(), 1, index.view(), src.view());
    // Host backends add in index order, exactly as the composed op; a device's atomic adds may sum a
    // repeated index in another order (differences of a few ulps).
    const tolerance = backend.name === 'cuda' ? 1e-6 : 0;
    expect(maxDiff(dst, before.scatterAdd(1, index, src))).toBeLessThanOrEqual(tolerance);
  });

  it('rotary (values and gradients of x, cos and sin; broadcast and transposed views)', () => {
    manualSeed(12);
    // x as a transposed view, as attention heads are: [B, T, H, D] → [B, H, T, D].
    const x = randn([2, 5, 3, 8]).transpose(1, 2).detach().setRequiresGrad();
    const cos = randn([2, 1, 5, 8]).setRequiresGrad();
    const sin = randn([5, 8]).setRequiresGrad();
    const ours = rotary(x, cos, sin);
    const composed = rotaryComposed(x, cos, sin);
    expect(ours.shape).toEqual([2, 3, 5, 8]);
    // A fused kernel may contract a product and the sum into one FMA: within an ulp or so.
    expect(relativeDiff(ours, composed)).toBeLessThan(1e-6);
    const weights = randn([2, 3, 5, 8]);
    ours.mul(weights).sum().backward();
    const oursGrads = [x.grad!, cos.grad!, sin.grad!];
    x.grad = null;
    cos.grad = null;
    sin.grad = null;
    composed.mul(weights).sum().backward();
    [x.grad!, cos.grad!, sin.grad!].forEach((g, i) => {
      expect(relativeDiff(oursGrads[i]!, g)).toBeLessThan(1e-6);
    });
  });

  it('rotary as Llama calls it: only x needs a gradient; also float64, size-1 and mixed-dtype cos/sin', () => {
    manualSeed(14);
    const cases: [Tensor, Tensor, Tensor][] = [
      // cos/sin [B, 1, T, D] broadcast over the heads, constants of the position.
      [randn([2, 6, 4, 16]).transpose(1, 2), randn([2, 1, 6, 16]), randn([2, 1, 6, 16])],
      [
        randn([3, 4, 6], { dtype: 'float64' }),
        randn([4, 6], { dtype: 'float64' }),
        randn([6], { dtype: 'float64' }),
      ],
      // A size-1 last dim of cos/sin broadcasts across the row (stride 0 there).
      [randn([3, 4, 6]), randn([4, 1]), randn([4, 1])],
      // Mixed dtypes are promoted by the composed ops, never given to a kernel.
      [randn([3, 4, 6]), randn([4, 6], { dtype: 'float64' }), randn([4, 6])],
    ];
    for (const [values, cos, sin] of cases) {
      const x = values.detach().setRequiresGrad();
      const ours = rotary(x, cos, sin);
      const composed = rotaryComposed(x, cos, sin);
      expect(ours.dtype).toBe(composed.dtype);
      expect(relativeDiff(ours, composed)).toBeLessThan(1e-6);
      const weights = randn(ours.shape, { dtype: ours.dtype });
      ours.mul(weights).sum().backward();
      const oursGrad = x.grad!;
      expect(cos.grad).toBeNull();
      x.grad = null;
      composed.mul(weights).sum().backward();
      expect(oursGrad.shape).toEqual(x.shape);
      expect(relativeDiff(oursGrad, x.grad!)).toBeLessThan(1e-6);
    }
  });

  it('rotary names a bad shape', () => {
    expect(() => rotary(zeros([2, 5]), zeros([5]), zeros([5]))).toThrow(
      '[rotary] x needs an even last dim, received [2, 5]',
    );
    expect(() => rotary(zeros([2, 4]), zeros([3, 2, 4]), zeros([4]))).toThrow(
      '[rotary] cos [3, 2, 4] must broadcast to x [2, 4] without growing it',
    );
  });

  it('swiglu (values and both gradients; broadcast, transposed and float64 inputs)', () => {
    manualSeed(15);
    const cases: [Tensor, Tensor][] = [
      [randn([4, 6, 10], { std: 2 }), randn([4, 6, 10])],
      // A transposed gate and an up broadcast over the rows (its gradient is summed back down).
      [randn([4, 10, 6], { std: 2 }).transpose(1, 2), randn([10])],
      [randn([3, 1, 5], { std: 2, dtype: 'float64' }), randn([3, 4, 5], { dtype: 'float64' })],
    ];
    for (const [gateValues, upValues] of cases) {
      const gate = gateValues.detach().setRequiresGrad();
      const up = upValues.detach().setRequiresGrad();
      const ours = swiglu(gate, up);
      const composed = swigluComposed(gate, up);
      expect(ours.shape).toEqual(composed.shape);
      expect(ours.dtype).toBe(composed.dtype);
      expect(relativeDiff(ours, composed)).toBeLessThan(1e-6);
      const weights = randn(ours.shape, { dtype: ours.dtype });
      ours.mul(weights).sum().backward();
      const oursGrads = [gate.grad!, up.grad!];
      gate.grad = null;
      up.grad = null;
      composed.mul(weights).sum().backward();
      [gate.grad!, up.grad!].forEach((g, i) => {
        expect(oursGrads[i]!.shape).toEqual(g.shape);
        expect(relativeDiff(oursGrads[i]!, g)).toBeLessThan(1e-6);
      });
    }
  });

  it('swiglu computes only the gradient an input needs', () => {
    manualSeed(16);
    const weights = randn([5, 12]);
    for (const needs of [
      [true, false],
      [false, true],
    ] as const) {
      const gate = randn([5, 12], { std: 2 }).setRequiresGrad(needs[0]);
      const up = randn([5, 12]).setRequiresGrad(needs[1]);
      swiglu(gate, up).mul(weights).sum().backward();
      const ours = needs[0] ? gate.grad! : up.grad!;
      expect(needs[0] ? up.grad : gate.grad).toBeNull();
      gate.grad = null;
      up.grad = null;
      swigluComposed(gate, up).mul(weights).sum().backward();
      expect(relativeDiff(ours, needs[0] ? gate.grad! : up.grad!)).toBeLessThan(1e-6);
    }
  });

  it('swiglu in float16: composed elementwise ops, or one float32 pass where the backend declares fusedHalfPrecision', () => {
    manualSeed(17);
    const gate = randn([3, 8], { std: 2 }).cast('float16').setRequiresGrad();
    const up = randn([3, 8]).cast('float16').setRequiresGrad();
    const ours = swiglu(gate, up);
    const composed = swigluComposed(gate, up);
    expect(ours.dtype).toBe('float16');
    if (gate.backend.fusedHalfPrecision) {
      expect(relativeDiff(ours.float(), composed.float())).toBeLessThan(2e-3);
    } else {
      expect(Array.from(ours.toArray() as Float32Array)).toEqual(
        Array.from(composed.toArray() as Float32Array),
      );
    }
    ours.sum().backward();
    const oursGrads = [gate.grad!.float(), up.grad!.float()];
    gate.grad = null;
    up.grad = null;
    composed.sum().backward();
    expect(relativeDiff(oursGrads[0]!, gate.grad!.float())).toBeLessThan(1e-2);
    expect(relativeDiff(oursGrads[1]!, up.grad!.float())).toBeLessThan(1e-2);
  });

  it('bfloat16 rmsNorm, layerNorm, rotary and swiglu stay bfloat16 and match float32 math rounded once', () => {
    checkHalfPrecision();
  });

  it('swiglu names a bad input', () => {
    expect(() => swiglu(zeros([2, 3], { dtype: 'int64' }), zeros([2, 3]))).toThrow(
      '[swiglu] gate must be a floating tensor, received int64',
    );
    expect(() => swiglu(zeros([2, 3]), zeros([2, 3], { dtype: 'bool' }))).toThrow(
      '[swiglu] up must be a floating tensor, received bool',
    );
    expect(() => swiglu(zeros([2, 3]), zeros([2, 3], { dtype: 'float64' }))).toThrow(
      '[swiglu] gate and up must have one dtype, received float32 and float64',
    );
    expect(() => swiglu(zeros([2, 3]), zeros([2, 4]))).toThrow(
      '[swiglu] shapes [2, 3] and [2, 4] cannot be broadcast: dimension -1 is 3 vs 4',
    );
    expect(() => swigluComposed(zeros([2, 3]), zeros([4]))).toThrow(
      '[swiglu] shapes [2, 3] and [4] cannot be broadcast: dimension -1 is 3 vs 4',
    );
  });
});

describe('the JS reference kernels of rotary and swiglu round like the composed ops', () => {
  const on = { backend: 'js' } as const;
  it('float32 values and the x-gradient of rotary equal the composed ones bit for bit', () => {
    manualSeed(18);
    const x = randn([2, 5, 3, 8], on).transpose(1, 2).detach().setRequiresGrad();
    const cos = randn([2, 1, 5, 8], on);
    const sin = randn([5, 8], on);
    const ours = rotary(x, cos, sin);
    const composed = rotaryComposed(x, cos, sin);
    expect(Array.from(ours.toArray() as Float32Array)).toEqual(
      Array.from(composed.toArray() as Float32Array),
    );
    const weights = randn([2, 3, 5, 8], on);
    ours.mul(weights).sum().backward();
    const oursGrad = x.grad!;
    x.grad = null;
    composed.mul(weights).sum().backward();
    expect(Array.from(oursGrad.toArray() as Float32Array)).toEqual(
      Array.from(x.grad!.toArray() as Float32Array),
    );
  });

  it('float32 values of swiglu equal silu(gate)·up bit for bit', () => {
    manualSeed(19);
    const gate = randn([4, 33], { ...on, std: 3 });
    const up = randn([33], on);
    expect(Array.from(swiglu(gate, up).toArray() as Float32Array)).toEqual(
      Array.from(swigluComposed(gate, up).toArray() as Float32Array),
    );
  });
});

/**
 * 16-bit inputs of the norms, rotary and swiglu keep their dtype and equal float32 math on the same
 * values within a few bfloat16 ulps, values and gradients (on the fused kernels where the backend declares
 * fusedHalfPrecision, composed otherwise).
 */
function checkHalfPrecision(): void {
  manualSeed(23);
  const x32 = randn([2, 5, 64], { std: 3 });
  const w32 = randn([64]);
  const b32 = randn([64]);
  const x = x32.cast('bfloat16').setRequiresGrad();
  const w = w32.cast('bfloat16').setRequiresGrad();
  const b = b32.cast('bfloat16').setRequiresGrad();
  // Reference: the same bfloat16 values widened to float32, computed in float32.
  const [xr, wr, br] = [x, w, b].map((t) => t.detach().float().setRequiresGrad());
  const bf16Ulp = 2 ** -7;
  const cases: [string, () => Tensor, () => Tensor][] = [
    ['rmsNorm', () => rmsNorm(x, w, 1e-6), () => rmsNormComposed(xr!, wr, 1e-6)],
    ['layerNorm', () => layerNorm(x, [64], w, b), () => layerNormComposed(xr!, [64], wr, br)],
    ['swiglu', () => swiglu(x, x.mul(0.5)), () => swigluComposed(xr!, xr!.mul(0.5))],
  ];
  for (const [name, ours, reference] of cases) {
    const out = ours();
    expect(out.dtype, name).toBe('bfloat16');
    const ref = reference();
    expect(relativeDiff(out.float(), ref), name).toBeLessThan(4 * bf16Ulp);
    const g = randn(out.shape);
    out.mul(g.cast('bfloat16')).sum().backward();
    ref.mul(g).sum().backward();
    expect(x.grad!.dtype, name).toBe('bfloat16');
    expect(relativeDiff(x.grad!.float(), xr!.grad!), name).toBeLessThan(8 * bf16Ulp);
    if (name !== 'swiglu') expect(relativeDiff(w.grad!.float(), wr!.grad!), name).toBeLessThan(8 * bf16Ulp);
    for (const t of [x, w, b, xr!, wr!, br!]) t.grad = null;
  }
  const cos = randn([5, 64]).cast('bfloat16');
  const sin = randn([5, 64]).cast('bfloat16');
  const rotated = rotary(x, cos, sin);
  expect(rotated.dtype).toBe('bfloat16');
  const rotatedRef = rotaryComposed(xr!, cos.float(), sin.float());
  expect(relativeDiff(rotated.float(), rotatedRef)).toBeLessThan(4 * bf16Ulp);
}

describe('the fused-kernel path for 16-bit inputs (fusedHalfPrecision), over the JS kernels', () => {
  it('takes bfloat16 through the fused kernels and their float32 gradients', () => {
    const name = 'js-half-precision';
    registerBackend({ ...getBackend('js'), name, fusedHalfPrecision: true });
    try {
      withBackend(name, checkHalfPrecision);
    } finally {
      unregisterBackend(name);
    }
  });
});
