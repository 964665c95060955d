import type { AdamWStepOptions, AdamWTensors } from '../backend/kernels.js';
import { fmtShape, ShapeError } from '../errors.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { commonBackend } from './core.js';

export type { AdamWStepOptions };

/**
 * `a + w·(b − a)` with ATen's lerp formula, which switches form at w = 0.5 to keep the rounding of
 * float32 identical to PyTorch's `lerp_`.
 */
function lerp(a: Tensor, b: Tensor, weight: number): Tensor {
  if (Math.abs(weight) < 0.5) return a.add(b.sub(a).mul(weight));
  // ATen computes 1 − w in float32 from the float32 weight.
  return b.sub(b.sub(a).mul(Math.fround(1 - Math.fround(weight))));
}

/**
 * One AdamW update (torch.optim.AdamW's rule; Loshchilov & Hutter 2019), in place:
 *
 * ```
 * p ← p·(1 − lr·weightDecay)
 * m ← lerp(m, g, 1 − β₁)                 v ← β₂·v + (1 − β₂)·g²
 * v̂ ← amsgrad ? (vmax ← max(vmax, v)) : v
 * denom ← √v̂ / √(1 − β₂ᵗ) + eps
 * p ← p − lr/(1 − β₁ᵗ) · m / denom
 * ```
 *
 * Runs as one fused pass when the backend has `adamwStep` and the tensors are plain contiguous
 * float32/float64 of one shape; otherwise as {@link adamwStepComposed}, which gives the same values.
 * Call it under `noGrad` on tensors that are not part of a live graph (the optimizer does).
 */
export function adamwStep(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  options: AdamWStepOptions,
): void {
  if (!fusable(param, grad, expAvg, expAvgSq, maxExpAvgSq)) {
    adamwStepComposed(param, grad, expAvg, expAvgSq, maxExpAvgSq, options);
    return;
  }
  const g = grad.isContiguous ? grad : grad.contiguous();
  param.backend.adamwStep!(
    param.view(),
    g.view(),
    expAvg.view(),
    expAvgSq.view(),
    maxExpAvgSq ? maxExpAvgSq.view() : null,
    options,
  );
  for (const t of [param, expAvg, expAvgSq, ...(maxExpAvgSq ? [maxExpAvgSq] : [])]) t.box.bumpVersion();
}

/**
 * {@link adamwStep} for several parameters with one set of options (one step count): on a backend with
 * `adamwStepMulti` the fusable ones of each dtype go in a few launches (multi-tensor AdamW), with the
 * values `adamwStep` gives each; the others, and every parameter on other backends, take `adamwStep`.
 */
export function adamwStepMulti(items: readonly AdamWTensors<Tensor>[], options: AdamWStepOptions): void {
  const batches = new Map<string, AdamWTensors<Tensor>[]>();
  for (const item of items) {
    const { param, grad, expAvg, expAvgSq, maxExpAvgSq } = item;
    if (!param.backend.adamwStepMulti || !fusable(param, grad, expAvg, expAvgSq, maxExpAvgSq)) {
      adamwStep(param, grad, expAvg, expAvgSq, maxExpAvgSq, options);
      continue;
    }
    const key = `${param.backend.name}|${param.dtype}|${maxExpAvgSq ? 'amsgrad' : ''}`;
    const batch = batches.get(key) ?? [];
    batch.push(item);
    batches.set(key, batch);
  }
  for (const batch of batches.values()) {
    const views = batch.map(({ param, grad, expAvg, expAvgSq, maxExpAvgSq }) => ({
      param: param.view(),
      grad: (grad.isContiguous ? grad : grad.contiguous()).view(),
      expAvg: expAvg.view(),
      expAvgSq: expAvgSq.view(),
      maxExpAvgSq: maxExpAvgSq ? maxExpAvgSq.view() : null,
    }));
    batch[0]!.param.backend.adamwStepMulti!(views, options);
    for (const { param, expAvg, expAvgSq, maxExpAvgSq } of batch)
      for (const t of [param, expAvg, expAvgSq, ...(maxExpAvgSq ? [maxExpAvgSq] : [])]) t.box.bumpVersion();
  }
}

/**
 * Whether one update may run on the fused kernel: the backend has it and the tensors are plain
 * contiguous float32/float64 of one shape (shapes are checked here, with the op's error).
 */
function fusable(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
): boolean {
  const state = [expAvg, expAvgSq, ...(maxExpAvgSq ? [maxExpAvgSq] : [])];
  const named: [string, Tensor][] = [
    ['grad', grad],
    ['expAvg', expAvg],
    ['expAvgSq', expAvgSq],
  ];
  if (maxExpAvgSq) named.push(['maxExpAvgSq', maxExpAvgSq]);
  for (const [name, t] of named) {
    if (!shapesEqual(t.shape, param.shape)) {
      throw new ShapeError(
        `[adamwStep] ${name} has shape ${fmtShape(t.shape)}, the parameter ${fmtShape(param.shape)}`,
      );
    }
  }
  const backend = commonBackend('adamwStep', [param, grad, ...state]);
  return (
    backend.adamwStep !== undefined &&
    (param.dtype === 'float32' || param.dtype === 'float64') &&
    [grad, ...state].every((t) => t.dtype === param.dtype) &&
    [param, ...state].every((t) => t.isContiguous && !t.gradNode)
  );
}

/** AdamW's update composed from elementwise ops, each rounded to the dtype (the fused kernels' reference). */
export function adamwStepComposed(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  options: AdamWStepOptions,
): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = options;
  if (weightDecay !== 0) param.assign(param.mul(1 - lr * weightDecay));
  expAvg.assign(lerp(expAvg, grad, 1 - beta1));
  // addcmul_(grad, grad, value): v + (value·g)·g, in that order.
  expAvgSq.assign(expAvgSq.mul(beta2).add(grad.mul(1 - beta2).mul(grad)));
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = lr / biasCorrection1;
  const biasCorrection2Sqrt = biasCorrection2 ** 0.5;
  let second = expAvgSq;
  if (maxExpAvgSq) {
    maxExpAvgSq.assign(maxExpAvgSq.maximum(expAvgSq));
    second = maxExpAvgSq;
  }
  const denom = second.sqrt().div(biasCorrection2Sqrt).add(eps);
  // addcdiv_(exp_avg, denom, value = −stepSize): p + (value·m)/denom, in that order.
  param.assign(param.add(expAvg.mul(-stepSize).div(denom)));
}
