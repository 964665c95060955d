import { record } from '../autograd/node.js';
import type { Dtype } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError, TensorError } from '../errors.js';
import type { Generator } from '../random/generator.js';
import { bernoulli } from '../random/sampling.js';
import { normalizeAxis, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { fusedDtype, wrap } from './core.js';
import { where } from './elementwise.js';
import { gather } from './indexing.js';
import { mean } from './reduce.js';
import { reshape } from './view.js';

function assertFloat(op: string, x: Tensor): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64' && x.dtype !== 'float16' && x.dtype !== 'bfloat16') {
    throw new DtypeError(`[${op}] needs a floating-point tensor, received ${x.dtype}`);
  }
}

export function softmax(x: Tensor, dim: number): Tensor {
  assertFloat('softmax', x);
  const axis = normalizeAxis('softmax', dim, x.rank);
  const out = wrap(x.backend, x.backend.softmax(x.view(), axis, false), x.dtype, x.shape);
  return record('softmax', [x], out, { axis });
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  assertFloat('logSoftmax', x);
  const axis = normalizeAxis('logSoftmax', dim, x.rank);
  const out = wrap(x.backend, x.backend.softmax(x.view(), axis, true), x.dtype, x.shape);
  return record('logSoftmax', [x], out, { axis });
}

/**
 * Layer normalization over the trailing dims of `normalizedShape` (biased variance, like PyTorch). Uses
 * the backend's fused kernel for last-dim normalization when it has one; {@link layerNormComposed} is the
 * reference.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const fused = x.backend.layerNorm;
  if (
    fused &&
    normalizedShape.length === 1 &&
    x.rank >= 1 &&
    x.shape[x.rank - 1] === normalizedShape[0] &&
    fusedDtype(x) &&
    (!weight || weight.dtype === x.dtype) &&
    (!bias || bias.dtype === x.dtype)
  ) {
    const result = fused(x.view(), weight ? weight.view() : null, bias ? bias.view() : null, eps);
    const rowShape = x.shape.slice(0, -1);
    const stats = statisticsDtype(x.dtype);
    const mean = wrap(x.backend, result.mean, stats, [...rowShape, 1]);
    const rstd = wrap(x.backend, result.rstd, stats, [...rowShape, 1]);
    const out = wrap(x.backend, result.out, x.dtype, x.shape);
    const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
    return record('layerNormFused', inputs, out, { hasWeight: Boolean(weight), hasBias: Boolean(bias) }, [
      mean,
      rstd,
    ]);
  }
  return layerNormComposed(x, normalizedShape, weight, bias, eps);
}

/** The dtype of a fused norm's saved mean and rstd: float32 for 16-bit inputs, else the input's. */
function statisticsDtype(dtype: Dtype): Dtype {
  return dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype;
}

/** LayerNorm composed from elementwise ops and reductions (the reference for fused kernels). */
export function layerNormComposed(
  x: Tensor,
  normalizedShape: readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const n = normalizedShape.length;
  if (n === 0 || n > x.rank || !shapesEqual(x.shape.slice(x.rank - n), normalizedShape)) {
    throw new ShapeError(
      `[layerNorm] normalizedShape ${fmtShape(normalizedShape)} must match the trailing dims of ${fmtShape(x.shape)}`,
    );
  }
  const axes = Array.from({ length: n }, (_, i) => x.rank - n + i);
  const mu = mean(x, axes, true);
  const centered = x.sub(mu);
  const variance = mean(centered.square(), axes, true);
  let y = centered.mul(variance.add(eps).rsqrt());
  if (weight) y = y.mul(weight);
  if (bias) y = y.add(bias);
  return y;
}

/**
 * RMS normalization over the last dim: x / sqrt(mean(x²) + eps) · weight (Llama's RMSNorm, in float32).
 * Uses the backend's fused kernel when it has one; {@link rmsNormComposed} is the reference.
 */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  const fused = x.backend.rmsNorm;
  if (fused && x.rank >= 1 && fusedDtype(x) && (!weight || weight.dtype === x.dtype)) {
    const result = fused(x.view(), weight ? weight.view() : null, eps);
    const rstd = wrap(x.backend, result.rstd, statisticsDtype(x.dtype), [...x.shape.slice(0, -1), 1]);
    const out = wrap(x.backend, result.out, x.dtype, x.shape);
    return record('rmsNormFused', weight ? [x, weight] : [x], out, { hasWeight: Boolean(weight) }, [rstd]);
  }
  return rmsNormComposed(x, weight, eps);
}

/** RMSNorm composed from elementwise ops and reductions (the reference for fused kernels). */
export function rmsNormComposed(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  const xf = x.dtype === 'float32' || x.dtype === 'float64' ? x : x.float();
  const y = xf.mul(mean(xf.square(), -1, true).add(eps).rsqrt());
  const out = y.dtype === x.dtype ? y : y.cast(x.dtype);
  return weight ? weight.mul(out) : out;
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (PyTorch's default -100). */
  readonly ignoreIndex?: number;
  readonly reduction?: 'mean' | 'sum' | 'none';
  /** Label smoothing in [0, 1). */
  readonly labelSmoothing?: number;
}

/**
 * Cross-entropy of logits [N, C] (or [N, C, ...]) against int targets [N] (or [N, ...]). With
 * `reduction: 'mean'` the sum is divided by the number of non-ignored targets, as PyTorch does.
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  const smoothing = options.labelSmoothing ?? 0;
  if (target.dtype !== 'int64' && target.dtype !== 'int32') {
    throw new DtypeError(
      `[crossEntropy] target must hold class indices (int64 or int32), received ${target.dtype}`,
    );
  }
  if (logits.rank < 1 || target.rank !== logits.rank - 1) {
    throw new ShapeError(
      `[crossEntropy] logits ${fmtShape(logits.shape)} and target ${fmtShape(target.shape)} do not fit: expected target of rank ${logits.rank - 1}`,
    );
  }
  // Move the class dim last: [N, C, d1..] → [N, d1.., C].
  const scores =
    logits.rank > 2
      ? logits.permute([0, ...Array.from({ length: logits.rank - 2 }, (_, i) => i + 2), 1])
      : logits;
  const classes = scores.shape[scores.rank - 1]!;
  if (!shapesEqual(scores.shape.slice(0, -1), target.shape)) {
    throw new ShapeError(
      `[crossEntropy] logits ${fmtShape(logits.shape)} and target ${fmtShape(target.shape)} disagree outside the class dim`,
    );
  }
  const checked = checkTargets(target, classes, ignoreIndex);
  // Known on the host: no mask when nothing is ignored. On the device: always a mask and a count.
  const isValid = checked && checked.valid === target.size ? null : target.ne(ignoreIndex);
  const safeTarget = isValid ? where(isValid, target, 0) : target;
  let loss: Tensor;
  if (smoothing === 0 && scores.rank === 2) {
    loss = softmaxCrossEntropy(scores, safeTarget);
  } else {
    const logProbs = logSoftmax(scores, -1);
    loss = gather(logProbs, -1, reshape(safeTarget, [...target.shape, 1]).cast('int64'))
      .squeeze(-1)
      .neg();
    if (smoothing > 0) {
      if (smoothing >= 1)
        throw new TensorError(`[crossEntropy] labelSmoothing must be in [0, 1), received ${smoothing}`);
      const uniform = logProbs.mean(-1).neg();
      loss = loss.mul(1 - smoothing).add(uniform.mul(smoothing));
    }
  }
  if (isValid) loss = where(isValid, loss, 0);
  if (reduction === 'none') return loss;
  const total = loss.sum();
  if (reduction === 'sum') return total;
  return total.div(checked ? checked.valid : isValid!.sum());
}

/**
 * Checks that every target is a class index or `ignoreIndex`. A backend with `checkIndexBounds`
 * checks on the device (the error surfaces at its next host read) and this returns null; otherwise
 * one host read checks every target, throws on the first bad one and returns how many are not ignored.
 */
export function checkTargets(
  target: Tensor,
  classes: number,
  ignoreIndex: number,
  op = 'crossEntropy',
): { valid: number } | null {
  const error = (t: number) =>
    new ShapeError(
      `[${op}] target ${t} is out of range for ${classes} classes (ignore_index is ${ignoreIndex})`,
    );
  const backend = target.backend;
  if (backend.checkIndexBounds) {
    if (target.size > 0)
      backend.checkIndexBounds(target.view(), { low: 0, high: classes, allowed: ignoreIndex, error });
    return null;
  }
  const targets = target.toArray();
  let valid = 0;
  for (let i = 0; i < targets.length; i++) {
    const t = Number(targets[i]);
    if (t === ignoreIndex) continue;
    valid++;
    if (t < 0 || t >= classes) throw error(t);
  }
  return { valid };
}

/**
 * −log softmax(scores)[i, target[i]] per row of scores [N, C] (targets in range). Records one op whose
 * backward is softmax(scores)·g − onehot(target)·g: the dense part from the saved log-probabilities in
 * two passes, the one-hot part added in place at N positions — neither the gather's scatter into zeros
 * nor log-softmax's generic backward is materialized.
 */
function softmaxCrossEntropy(scores: Tensor, target: Tensor): Tensor {
  const rows = scores.shape[0]!;
  const backend = scores.backend;
  const logProbs = wrap(backend, backend.softmax(scores.view(), 1, true), scores.dtype, scores.shape);
  const index = reshape(target, [rows, 1]).cast('int64');
  const picked = wrap(backend, backend.gather(logProbs.view(), 1, index.view()), scores.dtype, [rows]);
  return record('softmaxCrossEntropy', [scores], picked.neg(), {}, [logProbs, index]);
}

export function mseLoss(input: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  const sq = input.sub(target).square();
  return reduction === 'none' ? sq : reduction === 'sum' ? sq.sum() : sq.mean();
}

/** Inverted dropout: zeroes elements with probability p and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, training = true, generator?: Generator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new TensorError(`[dropout] p must be in [0, 1], received ${p}`);
  if (!training || p === 0) return x;
  if (p === 1) return x.mul(0);
  const keep = bernoulli(x.shape, 1 - p, { generator, backend: x.backend.name, dtype: x.dtype });
  return x.mul(keep).mul(1 / (1 - p));
}
