import type { ConvGeometry } from '../backend/kernels.js';
import { scaledDotProductAttentionBackward } from '../ops/attention.js';
import { wrap } from '../ops/core.js';
import { zeros } from '../ops/creation.js';
import { where } from '../ops/elementwise.js';
import { scatterAddInPlace } from '../ops/indexing.js';
import { linearCrossEntropyBackward, linearCrossEntropySumBackward } from '../ops/linear-cross-entropy.js';
import { inFactorDtype } from '../ops/matmul.js';
import { rotaryTransposed, rotateHalf } from '../ops/rotary.js';
import { swigluBackward } from '../ops/swiglu.js';
import { reshape, sumToShape } from '../ops/view.js';
import type { Tensor } from '../tensor.js';
import { checkpointBackward } from './checkpoint.js';

/** What a backward rule sees. `needs[i]` says whether input i wants a gradient (skip work if not). */
export interface GradContext {
  readonly grad: Tensor;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly saved: readonly Tensor[];
  readonly needs: readonly boolean[];
}

export type GradRule = (ctx: GradContext) => (Tensor | null)[];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Re-inserts reduced axes as size-1 dims so a reduced gradient broadcasts against the input. */
/** t in `dtype` (a norm's float32 statistics dtype) when t is narrower; t itself otherwise. */
function widened(t: Tensor, dtype: Tensor['dtype']): Tensor {
  return t.dtype === dtype || t.dtype === 'float64' ? t : t.cast(dtype);
}

/** A gradient computed in a wider dtype, rounded back to its input's dtype. */
function narrowed(t: Tensor | null, dtype: Tensor['dtype'] | undefined): Tensor | null {
  return t === null || dtype === undefined || t.dtype === dtype ? t : t.cast(dtype);
}

function unreduce(g: Tensor, input: Tensor, attrs: Readonly<Record<string, unknown>>): Tensor {
  const axes = attrs.axes as number[];
  if (attrs.keepdim) return g;
  return reshape(
    g,
    input.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
  );
}

function params(ctx: GradContext): number[] {
  return ctx.attrs.params as number[];
}

/**
 * One backward rule per op, in one place. Each returns the gradient for each input (null where not
 * needed or not differentiable), shaped like that input. Each rule has a finite-difference check in
 * `gradients.test.ts`.
 */
export const GRADIENTS: Readonly<Record<string, GradRule>> = {
  // ── elementwise unary ───────────────────────────────────────────────────────
  neg: ({ grad }) => [grad.neg()],
  abs: ({ grad, inputs: [x] }) => [grad.mul(x!.sign())],
  exp: ({ grad, output }) => [grad.mul(output)],
  log: ({ grad, inputs: [x] }) => [grad.div(x!)],
  sqrt: ({ grad, output }) => [grad.div(output.mul(2))],
  rsqrt: ({ grad, output }) => [grad.mul(output.pow(3)).mul(-0.5)],
  sin: ({ grad, inputs: [x] }) => [grad.mul(x!.cos())],
  cos: ({ grad, inputs: [x] }) => [grad.mul(x!.sin()).neg()],
  tanh: ({ grad, output }) => [grad.mul(output.square().neg().add(1))],
  sigmoid: ({ grad, output }) => [grad.mul(output.mul(output.neg().add(1)))],
  relu: ({ grad, inputs: [x] }) => [grad.mul(x!.gt(0).cast(grad.dtype))],
  silu: ({ grad, inputs: [x], output }) => {
    // σ(x)·(1 + x·(1 − σ(x))) = σ(x)·(1 + x − silu(x)): five passes instead of seven.
    const s = x!.sigmoid();
    return [grad.mul(s).mul(x!.sub(output).add(1))];
  },
  gelu: ({ grad, inputs: [x] }) => {
    // d/dx x·Φ(x) = Φ(x) + x·φ(x)
    const cdf = x!.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
    const pdf = x!.square().mul(-0.5).exp().mul(INV_SQRT_2PI);
    return [grad.mul(cdf.add(x!.mul(pdf)))];
  },
  gelu_tanh: ({ grad, inputs: [x] }) => {
    const x3 = x!.pow(3);
    const t = x!.add(x3.mul(0.044715)).mul(SQRT_2_OVER_PI).tanh();
    const dInner = x!
      .square()
      .mul(3 * 0.044715)
      .add(1)
      .mul(SQRT_2_OVER_PI);
    return [
      grad.mul(
        t
          .add(1)
          .mul(0.5)
          .add(x!.mul(0.5).mul(t.square().neg().add(1)).mul(dInner)),
      ),
    ];
  },
  erf: ({ grad, inputs: [x] }) => [
    grad.mul(
      x!
        .square()
        .neg()
        .exp()
        .mul(2 / Math.sqrt(Math.PI)),
    ),
  ],
  sign: ({ grad }) => [grad.mul(0)],
  reciprocal: ({ grad, output }) => [grad.mul(output.square()).neg()],
  square: ({ grad, inputs: [x] }) => [grad.mul(x!).mul(2)],
  floor: ({ grad }) => [grad.mul(0)],
  ceil: ({ grad }) => [grad.mul(0)],
  round: ({ grad }) => [grad.mul(0)],
  pow_scalar: (ctx) => {
    const [p] = params(ctx) as [number];
    const x = ctx.inputs[0]!;
    return [p === 0 ? ctx.grad.mul(0) : ctx.grad.mul(x.pow(p - 1)).mul(p)];
  },
  clamp: (ctx) => {
    const [lo, hi] = params(ctx) as [number, number];
    const x = ctx.inputs[0]!;
    return [ctx.grad.mul(x.ge(lo).logicalAnd(x.le(hi)).cast(ctx.grad.dtype))];
  },

  // ── elementwise binary (gradients are summed back over broadcast dims) ─────
  add: ({ grad, inputs: [a, b], needs }) => [
    needs[0] ? sumToShape(grad, a!.shape) : null,
    needs[1] ? sumToShape(grad, b!.shape) : null,
  ],
  sub: ({ grad, inputs: [a, b], needs }) => [
    needs[0] ? sumToShape(grad, a!.shape) : null,
    needs[1] ? sumToShape(grad.neg(), b!.shape) : null,
  ],
  mul: ({ grad, inputs: [a, b], needs }) => [
    needs[0] ? sumToShape(grad.mul(b!), a!.shape) : null,
    needs[1] ? sumToShape(grad.mul(a!), b!.shape) : null,
  ],
  div: ({ grad, inputs: [a, b], needs }) => [
    needs[0] ? sumToShape(grad.div(b!), a!.shape) : null,
    needs[1] ? sumToShape(grad.mul(a!).div(b!.square()).neg(), b!.shape) : null,
  ],
  pow: ({ grad, inputs: [a, b], output, needs }) => [
    needs[0] ? sumToShape(grad.mul(b!).mul(a!.pow(b!.sub(1))), a!.shape) : null,
    needs[1] ? sumToShape(grad.mul(output).mul(where(a!.gt(0), a!, 1).log()), b!.shape) : null,
  ],
  maximum: ({ grad, inputs: [a, b], needs }) => {
    // Ties split the gradient evenly, as PyTorch does.
    const weightA = a!.gt(b!).cast(grad.dtype).add(a!.eq(b!).cast(grad.dtype).mul(0.5));
    return [
      needs[0] ? sumToShape(grad.mul(weightA), a!.shape) : null,
      needs[1] ? sumToShape(grad.mul(weightA.neg().add(1)), b!.shape) : null,
    ];
  },
  minimum: ({ grad, inputs: [a, b], needs }) => {
    const weightA = a!.lt(b!).cast(grad.dtype).add(a!.eq(b!).cast(grad.dtype).mul(0.5));
    return [
      needs[0] ? sumToShape(grad.mul(weightA), a!.shape) : null,
      needs[1] ? sumToShape(grad.mul(weightA.neg().add(1)), b!.shape) : null,
    ];
  },
  where: ({ grad, inputs: [a, b], saved: [condition], needs }) => [
    needs[0] ? sumToShape(where(condition!, grad, 0), a!.shape) : null,
    needs[1] ? sumToShape(where(condition!, 0, grad), b!.shape) : null,
  ],
  cast: ({ grad, inputs: [x] }) => [grad.cast(x!.dtype)],

  // ── views and copies ────────────────────────────────────────────────────────
  clone: ({ grad }) => [grad],
  toBackend: ({ grad, attrs }) => [grad.toBackend(attrs.from as string)],
  reshape: ({ grad, inputs: [x] }) => [reshape(grad, [...x!.shape])],
  permute: ({ grad, attrs }) => {
    const dims = attrs.dims as number[];
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => {
      inverse[d] = i;
    });
    return [grad.permute(inverse)];
  },
  expand: ({ grad, inputs: [x] }) => [sumToShape(grad, x!.shape)],
  narrow: ({ grad, inputs: [x], attrs }) => {
    const full = zeros(x!.shape, { dtype: grad.dtype, backend: grad.backend.name });
    full.narrow(attrs.axis as number, attrs.start as number, grad.shape[attrs.axis as number]!).assign(grad);
    return [full];
  },
  select: ({ grad, inputs: [x], attrs }) => {
    const full = zeros(x!.shape, { dtype: grad.dtype, backend: grad.backend.name });
    full.select(attrs.axis as number, attrs.index as number).assign(grad);
    return [full];
  },
  cat: ({ grad, inputs, attrs, needs }) => {
    const axis = attrs.axis as number;
    let start = 0;
    return inputs.map((input, i) => {
      const length = input.shape[axis]!;
      const part = needs[i] ? grad.narrow(axis, start, length).contiguous() : null;
      start += length;
      return part;
    });
  },

  // ── reductions ──────────────────────────────────────────────────────────────
  sum: ({ grad, inputs: [x], attrs }) => [unreduce(grad, x!, attrs).expand(x!.shape).contiguous()],
  prod: ({ grad, inputs: [x], output, attrs }) => {
    // d prod / dxᵢ = prod / xᵢ (inputs with zeros are rare in training; they give NaN-free 0·inf only if one zero)
    const g = unreduce(grad, x!, attrs);
    const p = unreduce(output, x!, attrs);
    return [g.mul(p).div(x!)];
  },
  max: ({ grad, inputs: [x], output, attrs }) => {
    const mask = x!.eq(unreduce(output, x!, attrs)).cast(grad.dtype);
    const count = mask.sum(attrs.axes as number[], true);
    return [mask.div(count).mul(unreduce(grad, x!, attrs))];
  },
  min: ({ grad, inputs: [x], output, attrs }) => {
    const mask = x!.eq(unreduce(output, x!, attrs)).cast(grad.dtype);
    const count = mask.sum(attrs.axes as number[], true);
    return [mask.div(count).mul(unreduce(grad, x!, attrs))];
  },
  softmax: ({ grad, output, attrs }) => {
    const axis = attrs.axis as number;
    return [output.mul(grad.sub(grad.mul(output).sum(axis, true)))];
  },
  logSoftmax: ({ grad, output, attrs }) => {
    const axis = attrs.axis as number;
    return [grad.sub(output.exp().mul(grad.sum(axis, true)))];
  },

  softmaxCrossEntropy: ({ grad, saved: [logProbs, index] }) => {
    const backend = grad.backend;
    if (backend.softmaxCrossEntropyBackward && grad.dtype === logProbs!.dtype) {
      const storage = backend.softmaxCrossEntropyBackward(logProbs!.view(), grad.view(), index!.view());
      return [wrap(backend, storage, logProbs!.dtype, logProbs!.shape)];
    }
    const g = grad.reshape(-1, 1);
    const dense = logProbs!.exp().mul(g);
    scatterAddInPlace(dense, 1, index!, g.neg());
    return [dense];
  },

  linearCrossEntropy: linearCrossEntropyBackward,
  linearCrossEntropySum: linearCrossEntropySumBackward,

  // ── products ────────────────────────────────────────────────────────────────
  matmul: ({ grad, inputs: [a, b], needs }) => [
    needs[0] ? sumToShape(grad.matmul(b!.T), a!.shape) : null,
    needs[1] ? sumToShape(a!.T.matmul(grad), b!.shape) : null,
  ],

  // ── indexing ────────────────────────────────────────────────────────────────
  gather: ({ grad, inputs: [x], attrs, saved: [index] }) => {
    const axis = attrs.axis as number;
    const out = grad.backend.scatterAdd(x!.shape, grad.dtype, axis, index!.view(), grad.contiguous().view());
    return [wrap(grad.backend, out, grad.dtype, x!.shape)];
  },
  scatterAddSrc: ({ grad, inputs: [src], attrs, saved: [index] }) => {
    const picked = grad.gather(attrs.axis as number, index!);
    if (picked.size === src!.size) return [reshape(picked, [...src!.shape])];
    const full = zeros(src!.shape, { dtype: grad.dtype, backend: grad.backend.name });
    let view = full;
    index!.shape.forEach((d, i) => {
      view = view.narrow(i, 0, d);
    });
    view.assign(picked);
    return [full];
  },
  indexSelect: ({ grad, inputs: [x], attrs, saved: [index] }) => {
    const out = grad.backend.indexAdd(
      x!.shape,
      grad.dtype,
      attrs.axis as number,
      index!.view(),
      grad.contiguous().view(),
    );
    return [wrap(grad.backend, out, grad.dtype, x!.shape)];
  },

  // ── fused kernels (gradients composed from ops; the forward came from the backend) ──
  // 16-bit inputs (float32 statistics) are differentiated in float32 and each gradient is rounded back to
  // its input's dtype once, as PyTorch's float32 norm math differentiates.
  rmsNormFused: ({ grad: g16, inputs: [x16, w16], attrs, saved: [rstd], needs }) => {
    const kernel = g16.backend.rmsNormBackward;
    if (kernel && !(attrs.hasWeight && needs[1])) {
      const dx = needs[0]
        ? wrap(
            g16.backend,
            kernel(g16.view(), x16!.view(), w16 ? w16.view() : null, rstd!.view()),
            x16!.dtype,
            x16!.shape,
          )
        : null;
      return [dx, null];
    }
    const [grad, x, weight] = [g16, x16!, w16].map((t) => t && widened(t, rstd!.dtype));
    // dx = rstd·(dyw − x̂·mean(dyw·x̂)) with x̂ = x·rstd, written as (dyw − x·k)·rstd for the per-row
    // k = rstd²·mean(dyw·x): x̂ is not materialized unless the weight needs a gradient.
    const dyw = attrs.hasWeight ? grad!.mul(weight!) : grad!;
    const dx = needs[0] ? dyw.sub(x!.mul(dyw.mul(x!).mean(-1, true).mul(rstd!.square()))).mul(rstd!) : null;
    const dw = attrs.hasWeight && needs[1] ? sumToShape(grad!.mul(x!.mul(rstd!)), weight!.shape) : null;
    return [narrowed(dx, x16!.dtype), narrowed(dw, w16?.dtype)];
  },
  layerNormFused: ({ grad: g16, inputs, attrs, saved: [mean, rstd], needs }) => {
    const [x16, ...rest] = inputs;
    const w16 = attrs.hasWeight ? rest[0] : undefined;
    const b16 = attrs.hasBias ? rest[attrs.hasWeight ? 1 : 0] : undefined;
    const [grad, x, weight] = [g16, x16!, w16].map((t) => t && widened(t, rstd!.dtype));
    const xHat = x!.sub(mean!).mul(rstd!);
    const dyw = weight ? grad!.mul(weight) : grad!;
    const dx = needs[0]
      ? dyw
          .sub(dyw.mean(-1, true))
          .sub(xHat.mul(dyw.mul(xHat).mean(-1, true)))
          .mul(rstd!)
      : null;
    const out: (Tensor | null)[] = [narrowed(dx, x16!.dtype)];
    if (weight) out.push(needs[1] ? narrowed(sumToShape(grad!.mul(xHat), weight.shape), w16!.dtype) : null);
    if (b16) out.push(needs[out.length] ? sumToShape(g16, b16.shape) : null);
    return out;
  },
  loraLinear: ({ grad, inputs: [x, weight, a, b, bias], attrs, saved: [hidden], needs }) => {
    const scale = attrs.scale as number;
    // Factors of another dtype than x (PEFT's float32 adapters on a bfloat16 layer): the LoRA branch
    // runs in the factors' dtype, and its x-gradient is rounded back to x's dtype before the sum.
    const mixed = a!.dtype !== x!.dtype;
    const g = inFactorDtype(grad, a!.dtype);
    const gB = needs[0] || needs[2] ? g.matmul(b!).mul(scale) : null; // [rows, r]
    let dx: Tensor | null = null;
    if (needs[0]) {
      const base = grad.matmul(weight!);
      const expanded = mixed ? grad.backend.loraExpand?.(base.view(), gB!.view(), a!.view(), 1, true) : null;
      if (expanded) {
        dx = wrap(grad.backend, expanded, x!.dtype, base.shape);
        base.dispose();
      } else {
        const loraPart = gB!.matmul(a!);
        dx = base.add(mixed ? loraPart.cast(x!.dtype) : loraPart);
      }
    }
    let dA: Tensor | null = null;
    if (needs[2]) {
      const widenedX = inFactorDtype(x!, a!.dtype);
      dA = gB!.T.matmul(widenedX);
      if (widenedX !== x) widenedX.dispose();
    }
    const dB = needs[3] ? g.T.matmul(hidden!).mul(scale) : null;
    if (g !== grad) g.dispose();
    return [
      dx,
      needs[1] ? grad.T.matmul(x!) : null,
      dA,
      dB,
      attrs.hasBias && needs[4] ? sumToShape(grad, bias!.shape) : null,
    ];
  },

  rotary: ({ grad, inputs: [x, cos, sin], needs }) => [
    needs[0] ? rotaryTransposed(grad, cos!, sin!) : null,
    needs[1] ? sumToShape(grad.mul(x!), cos!.shape) : null,
    needs[2] ? sumToShape(grad.mul(rotateHalf(x!)), sin!.shape) : null,
  ],
  swiglu: ({ grad, inputs: [gate, up], needs }) => swigluBackward(grad, gate!, up!, [needs[0]!, needs[1]!]),
  scaledDotProductAttention: scaledDotProductAttentionBackward,

  // ── convolution ─────────────────────────────────────────────────────────────
  im2col: ({ grad, attrs }) => {
    const out = grad.backend.col2im(
      grad.view(),
      attrs.geometry as ConvGeometry,
      attrs.inputShape as number[],
    );
    return [wrap(grad.backend, out, grad.dtype, attrs.inputShape as number[])];
  },
  col2im: ({ grad, attrs, inputs: [columns] }) => {
    const out = grad.backend.im2col(grad.contiguous().view(), attrs.geometry as ConvGeometry);
    return [wrap(grad.backend, out, grad.dtype, columns!.shape)];
  },
  // ── recomputation ───────────────────────────────────────────────────────────
  checkpoint: (ctx) => checkpointBackward(ctx),
};
