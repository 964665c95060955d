import { describe, expect, it } from 'vitest';
import {
  cat,
  checkpoint,
  conv1d,
  conv2d,
  crossEntropy,
  embedding,
  GRADIENTS,
  layerNorm,
  linearCrossEntropy,
  loraLinear,
  manualSeed,
  rand,
  rmsNorm,
  rotary,
  scaledDotProductAttention,
  swiglu,
  type Tensor,
  tensor,
  where,
} from './index.js';
import { col2im } from './ops/conv.js';
import { describeEachBackend } from './testing/backends.js';
import { type GradcheckOptions, gradcheck } from './testing/gradcheck.js';

const f64 = { dtype: 'float64' as const };
/** A float64 leaf with values in [lo, hi). */
function leaf(shape: number[], lo = -1.5, hi = 1.5): Tensor {
  return rand(shape, { ...f64, low: lo, high: hi }).setRequiresGrad(true);
}

type Check = () =>
  | [(...xs: Tensor[]) => Tensor, Tensor[]]
  | [(...xs: Tensor[]) => Tensor, Tensor[], GradcheckOptions];

/**
 * One finite-difference check per rule in the gradient table (plus composite ops built on them).
 * Values avoid kinks (|x| away from 0 for abs/relu/sign, distinct values for max/min/sort).
 */
const CHECKS: Record<string, Check> = {
  neg: () => [(x) => x.neg(), [leaf([2, 3])]],
  abs: () => [
    (x) => x.abs(),
    [
      leaf([2, 3], 0.2, 1.5)
        .mul(tensor([1, -1, 1], f64))
        .detach()
        .setRequiresGrad(true),
    ],
  ],
  exp: () => [(x) => x.exp(), [leaf([2, 3])]],
  log: () => [(x) => x.log(), [leaf([2, 3], 0.2, 2)]],
  sqrt: () => [(x) => x.sqrt(), [leaf([2, 3], 0.2, 2)]],
  rsqrt: () => [(x) => x.rsqrt(), [leaf([2, 3], 0.2, 2)]],
  sin: () => [(x) => x.sin(), [leaf([2, 3])]],
  cos: () => [(x) => x.cos(), [leaf([2, 3])]],
  tanh: () => [(x) => x.tanh(), [leaf([2, 3])]],
  sigmoid: () => [(x) => x.sigmoid(), [leaf([2, 3], -4, 4)]],
  relu: () => [
    (x) => x.relu(),
    [
      tensor(
        [
          [-1.2, 0.7, 2.1],
          [0.3, -0.4, 1.1],
        ],
        { ...f64, requiresGrad: true },
      ),
    ],
  ],
  silu: () => [(x) => x.silu(), [leaf([2, 3], -4, 4)]],
  gelu: () => [(x) => x.gelu(), [leaf([2, 3], -3, 3)]],
  gelu_tanh: () => [(x) => x.gelu('tanh'), [leaf([2, 3], -3, 3)]],
  erf: () => [(x) => x.erf(), [leaf([2, 3], -2, 2)]],
  sign: () => [
    (x) => x.sign().mul(x),
    [
      tensor(
        [
          [-1.2, 0.7],
          [0.3, -0.4],
        ],
        { ...f64, requiresGrad: true },
      ),
    ],
  ],
  reciprocal: () => [(x) => x.reciprocal(), [leaf([2, 3], 0.3, 2)]],
  square: () => [(x) => x.square(), [leaf([2, 3])]],
  floor: () => [(x) => x.floor().add(x), [tensor([0.3, 1.6, -0.7], { ...f64, requiresGrad: true })]],
  ceil: () => [(x) => x.ceil().add(x), [tensor([0.3, 1.6, -0.7], { ...f64, requiresGrad: true })]],
  round: () => [(x) => x.round().add(x), [tensor([0.3, 1.6, -0.7], { ...f64, requiresGrad: true })]],
  pow_scalar: () => [(x) => x.pow(2.5), [leaf([2, 3], 0.2, 2)]],
  clamp: () => [
    (x) => x.clamp(-0.5, 0.6),
    [
      tensor(
        [
          [-1.2, 0.1, 2.1],
          [0.3, -0.4, 0.5],
        ],
        { ...f64, requiresGrad: true },
      ),
    ],
  ],
  add: () => [(a, b) => a.add(b!, 0.7), [leaf([3, 1, 4]), leaf([2, 4])]],
  sub: () => [(a, b) => a.sub(b!), [leaf([3, 1, 4]), leaf([4])]],
  mul: () => [(a, b) => a.mul(b!), [leaf([3, 1, 4]), leaf([2, 1])]],
  div: () => [(a, b) => a.div(b!), [leaf([3, 4]), leaf([4], 0.5, 2)]],
  pow: () => [(a, b) => a.pow(b!), [leaf([3, 4], 0.3, 2), leaf([4])]],
  maximum: () => [(a, b) => a.maximum(b!), [leaf([3, 4]), leaf([4])]],
  minimum: () => [(a, b) => a.minimum(b!), [leaf([3, 4]), leaf([3, 1])]],
  where: () => [(a, b) => where(tensor([true, false, true, true]), a, b!), [leaf([3, 4]), leaf([4])]],
  // float32 rounding is ~1e-7 relative: a coarse step and tolerance see through it.
  cast: () => [
    (x) => x.cast('float32').mul(3).cast('float64').mul(x),
    [leaf([3])],
    { eps: 1e-3, atol: 1e-3 },
  ],
  clone: () => [(x) => x.clone().mul(x), [leaf([2, 2])]],
  toBackend: () => [(x) => x.toBackend('js').mul(2).toBackend(x.backend.name), [leaf([3])]],
  reshape: () => [(x) => x.reshape(3, 2).matmul(x), [leaf([2, 3])]],
  permute: () => [
    (x) => x.permute(2, 0, 1).mul(tensor([1, 2, 3, 4], f64).reshape(1, 1, 4).permute(2, 0, 1)),
    [leaf([2, 3, 4])],
  ],
  expand: () => [(x) => x.expand(2, 3, 4), [leaf([3, 1])]],
  narrow: () => [(x) => x.narrow(1, 1, 2).square(), [leaf([2, 4])]],
  select: () => [(x) => x.select(0, 1).square(), [leaf([3, 2])]],
  cat: () => [(a, b) => cat([a, b!, a], 1).square(), [leaf([2, 2]), leaf([2, 3])]],
  sum: () => [(x) => x.sum([0, 2]).square(), [leaf([2, 3, 4])]],
  prod: () => [(x) => x.prod(1), [leaf([2, 3], 0.5, 1.5)]],
  max: () => [(x) => x.max(1), [leaf([3, 5])]],
  min: () => [(x) => x.min(0, true), [leaf([3, 5])]],
  softmax: () => [(x) => x.softmax(1), [leaf([2, 5], -3, 3)]],
  logSoftmax: () => [(x) => x.logSoftmax(0), [leaf([4, 3], -3, 3)]],
  matmul: () => [(a, b) => a.matmul(b!), [leaf([2, 3, 4]), leaf([2, 4, 5])]],
  gather: () => [
    (x) =>
      x.gather(
        1,
        tensor(
          [
            [0, 2, 2],
            [1, 0, 1],
          ],
          { dtype: 'int64' },
        ),
      ),
    [leaf([2, 3])],
  ],
  scatterAddSrc: () => [
    (x, s) =>
      x.scatterAdd(
        1,
        tensor(
          [
            [0, 2],
            [1, 1],
          ],
          { dtype: 'int64' },
        ),
        s!,
      ),
    [leaf([2, 3]), leaf([2, 3])],
  ],
  indexSelect: () => [(x) => x.indexSelect(0, tensor([2, 0, 2], { dtype: 'int64' })), [leaf([3, 2])]],
  im2col: () => [
    (x, w) => conv2d(x, w!, null, { padding: 1, stride: 2 }),
    [leaf([1, 2, 5, 4]), leaf([3, 2, 3, 3])],
  ],
  rmsNormFused: () => [(x, w) => rmsNorm(x, w!), [leaf([3, 5]), leaf([5])]],
  layerNormFused: () => [(x, w, b) => layerNorm(x, [5], w!, b!), [leaf([2, 3, 5]), leaf([5]), leaf([5])]],
  softmaxCrossEntropy: () => [
    // Weighted rows so the incoming gradient differs per row; -100 is ignored.
    (l) =>
      crossEntropy(l, tensor([2, -100, 0, 3], { dtype: 'int64' }), { reduction: 'none' }).mul(
        tensor([0.5, 2, -1.5, 1], f64),
      ),
    [leaf([4, 5], -2, 2)],
  ],
  // Chunks of 2 over 5 rows, a bias, a soft cap and an ignored row. Per row: backward recomputes the
  // logits of each chunk; summed: the gradients come from the forward.
  linearCrossEntropy: () => [
    (h, w, b) =>
      linearCrossEntropy(h, w!, tensor([2, -100, 0, 4, 1], { dtype: 'int64' }), {
        bias: b!,
        reduction: 'none',
        chunkRows: 2,
        softcap: 1.5,
      }),
    [leaf([5, 3]), leaf([6, 3]), leaf([6])],
  ],
  linearCrossEntropySum: () => [
    (h, w, b) =>
      linearCrossEntropy(h, w!, tensor([2, -100, 0, 4, 1], { dtype: 'int64' }), {
        bias: b!,
        chunkRows: 2,
        softcap: 1.5,
      }),
    [leaf([5, 3]), leaf([6, 3]), leaf([6])],
  ],
  rotary: () => [(x, c, s) => rotary(x, c!, s!), [leaf([2, 3, 4, 6]), leaf([2, 1, 4, 6]), leaf([4, 6])]],
  swiglu: () => [(g, u) => swiglu(g, u!), [leaf([2, 3, 4], -4, 4), leaf([2, 3, 4])]],
  // Grouped-query (2 heads over 1), causal with one cached key, and a bias that needs a gradient.
  scaledDotProductAttention: () => [
    (q, k, v, bias) => scaledDotProductAttention(q, k!, v!, { scale: 0.6, causal: true, bias: bias! }),
    [leaf([1, 2, 3, 4]), leaf([1, 1, 4, 4]), leaf([1, 1, 4, 4]), leaf([1, 1, 3, 4])],
  ],
  loraLinear: () => [
    (x, w, a, b, bias) => loraLinear(x, w!, bias!, a!, b!, 1.7),
    [leaf([2, 3, 4]), leaf([5, 4]), leaf([2, 4]), leaf([5, 2]), leaf([5])],
  ],
  col2im: () => {
    const geometry = { kernel: [3], stride: [2], padding: [1], dilation: [1], outSpatial: [3] };
    return [(c) => col2im(c, geometry, [1, 2, 5]), [leaf([1, 6, 3])]];
  },
  checkpoint: () => {
    // A closure-captured weight as well as the inputs, as a checkpointed layer uses its parameters.
    const w = leaf([3, 3]);
    return [(x, y) => checkpoint((a, b) => a.matmul(w).tanh().mul(b), x, y), [leaf([2, 3]), leaf([2, 3])]];
  },
};

/** Composite ops (built from table rules) that training relies on. */
const COMPOSITES: Record<string, Check> = {
  linear_3d: () => [(x, w) => x.matmul(w!.T), [leaf([2, 3, 4]), leaf([5, 4])]],
  conv1d_groups: () => [
    (x, w, b) => conv1d(x, w!, b!, { groups: 2, dilation: 2 }),
    [leaf([1, 4, 7]), leaf([2, 2, 2]), leaf([2])],
  ],
  layer_norm: () => [(x, w, b) => layerNorm(x, [4], w!, b!), [leaf([2, 4]), leaf([4]), leaf([4])]],
  rms_norm: () => [(x, w) => rmsNorm(x, w!), [leaf([2, 4]), leaf([4])]],
  swiglu_broadcast: () => [(g, u) => swiglu(g, u!), [leaf([3, 1, 4], -4, 4), leaf([2, 4])]],
  cross_entropy: () => [
    (l) => crossEntropy(l, tensor([2, -100, 0], { dtype: 'int64' }), { labelSmoothing: 0.1 }),
    [leaf([3, 4], -2, 2)],
  ],
  embedding: () => [
    (w) =>
      embedding(
        tensor(
          [
            [1, 1],
            [0, 2],
          ],
          { dtype: 'int64' },
        ),
        w,
      ),
    [leaf([3, 2])],
  ],
  var_std: () => [(x) => x.var(1).add(x.std(0).sum()), [leaf([3, 4])]],
  norm: () => [(x) => x.norm(2, 1).add(x.norm(3)), [leaf([3, 4], 0.2, 1.5)]],
  logsumexp: () => [(x) => x.logsumexp(1), [leaf([2, 4], -3, 3)]],
  sort_topk: () => [
    (x) => x.topk(2, 1).values.mul(tensor([1, 3], f64)),
    [
      tensor(
        [
          [0.3, -1, 2, 0.8],
          [1.5, 0.1, -0.2, 0.9],
        ],
        { ...f64, requiresGrad: true },
      ),
    ],
  ],
  quantile: () => [
    (x) => x.quantile(0.3, 1),
    [
      tensor(
        [
          [0.3, -1, 2, 0.8],
          [1.5, 0.1, -0.2, 0.9],
        ],
        { ...f64, requiresGrad: true },
      ),
    ],
  ],
  triu: () => [(x) => x.triu(1), [leaf([3, 3])]],
  chunk_split: () => [(x) => x.chunk(2, 1)[1]!.mul(x.split([1, 3], 1)[0]!), [leaf([2, 4])]],
  stack_squeeze: () => [(x) => x.unsqueeze(0).squeeze(0).flatten().square(), [leaf([2, 2])]],
};

describe('gradient table coverage', () => {
  it('every rule has a finite-difference check', () => {
    expect(Object.keys(CHECKS).sort()).toEqual(Object.keys(GRADIENTS).sort());
  });
});

describeEachBackend('finite-difference gradient checks (float64)', () => {
  manualSeed(7);
  it.each([...Object.keys(CHECKS), ...Object.keys(COMPOSITES)])('%s', (name) => {
    manualSeed(name.length * 31 + name.charCodeAt(0));
    const [fn, inputs, options] = (CHECKS[name] ?? COMPOSITES[name])!();
    expect(gradcheck(fn, inputs, options)).toBeLessThan(options?.atol ?? 1e-5);
  });
});
