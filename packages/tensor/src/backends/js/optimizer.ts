import type { AdamWStepOptions, View } from '../../backend/kernels.js';

type FloatArray = Float32Array | Float64Array;

/** Scalars of one update, each already rounded to the dtype as the composed ops round them. */
interface Coefficients {
  readonly decay: number;
  readonly small: boolean;
  readonly lerpWeight: number;
  readonly beta2: number;
  readonly oneMinusBeta2: number;
  readonly biasCorrection2Sqrt: number;
  readonly negStepSize: number;
  readonly eps: number;
}

/**
 * The JS AdamW update, in place, one pass over the parameter. Every operation of the composed
 * reference (`adamwStepComposed`) is done in float64 and rounded to the dtype right after, in the same
 * order, so float32 results are bit-identical to it: a float64 result of +, −, ×, ÷ or √ on float32
 * operands rounds to the correctly rounded float32 value. Scalars are rounded to the dtype first, as
 * the composed ops do when they turn numbers into 0-d tensors.
 */
export function adamwStep(
  param: View,
  grad: View,
  expAvg: View,
  expAvgSq: View,
  maxExpAvgSq: View | null,
  options: AdamWStepOptions,
): void {
  const single = param.dtype === 'float32';
  const round = single ? Math.fround : (v: number) => v;
  const { lr, beta1, beta2, eps, weightDecay, step } = options;
  // lerp(m, g, w) with ATen's switch at w = 0.5 (see adamwStepComposed's `lerp`).
  const weight = 1 - beta1;
  const small = Math.abs(weight) < 0.5;
  const coefficients: Coefficients = {
    decay: weightDecay === 0 ? 1 : round(1 - lr * weightDecay),
    small,
    lerpWeight: small ? round(weight) : Math.fround(1 - Math.fround(weight)),
    beta2: round(beta2),
    oneMinusBeta2: round(1 - beta2),
    biasCorrection2Sqrt: round((1 - beta2 ** step) ** 0.5),
    negStepSize: round(-(lr / (1 - beta1 ** step))),
    eps: round(eps),
  };
  const size = param.shape.reduce((a, b) => a * b, 1);
  // The offsets are folded into subarrays so the loops index from 0 (views share the memory).
  const part = (v: View) => (v.storage as FloatArray).subarray(v.offset, v.offset + size);
  const p = part(param);
  const g = part(grad);
  const m = part(expAvg);
  const v = part(expAvgSq);
  const vmax = maxExpAvgSq ? part(maxExpAvgSq) : null;
  if (single && small && !vmax) {
    // The usual case (β₁ > 0.5, no AMSGrad) in a loop without branches: about twice as fast. Without weight
    // decay the factor is 1, and p·1 rounds to p exactly.
    updateCommon32(
      p as Float32Array,
      g as Float32Array,
      m as Float32Array,
      v as Float32Array,
      weightDecay !== 0 ? coefficients.decay : 1,
      coefficients,
    );
  } else if (single) {
    update32(
      p as Float32Array,
      g as Float32Array,
      m as Float32Array,
      v as Float32Array,
      vmax as Float32Array | null,
      weightDecay !== 0,
      coefficients,
    );
  } else {
    update64(
      p as Float64Array,
      g as Float64Array,
      m as Float64Array,
      v as Float64Array,
      vmax as Float64Array | null,
      weightDecay !== 0,
      coefficients,
    );
  }
}

function updateCommon32(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  decay: number,
  c: Coefficients,
): void {
  const f = Math.fround;
  const { lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps } = c;
  for (let i = 0; i < p.length; i++) {
    const pi = f(p[i]! * decay);
    const gi = g[i]!;
    const mi = m[i]!;
    const mNew = f(mi + f(f(gi - mi) * lerpWeight));
    m[i] = mNew;
    const vNew = f(f(v[i]! * beta2) + f(f(gi * oneMinusBeta2) * gi));
    v[i] = vNew;
    const denom = f(f(f(Math.sqrt(vNew)) / biasCorrection2Sqrt) + eps);
    p[i] = f(pi + f(f(mNew * negStepSize) / denom));
  }
}

// Two copies of one loop, so that each stays monomorphic (one array type, Math.fround inlined or not).
function update32(
  p: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vmax: Float32Array | null,
  decays: boolean,
  c: Coefficients,
): void {
  const f = Math.fround;
  const { decay, small, lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps } = c;
  for (let i = 0; i < p.length; i++) {
    const pi = decays ? f(p[i]! * decay) : p[i]!;
    const gi = g[i]!;
    const mi = m[i]!;
    const diff = f(gi - mi);
    const mNew = small ? f(mi + f(diff * lerpWeight)) : f(gi - f(diff * lerpWeight));
    m[i] = mNew;
    const vNew = f(f(v[i]! * beta2) + f(f(gi * oneMinusBeta2) * gi));
    v[i] = vNew;
    let second = vNew;
    if (vmax) {
      const previous = vmax[i]!;
      // Math.max propagates NaN, as torch.maximum does.
      second = Math.max(previous, vNew);
      vmax[i] = second;
    }
    const denom = f(f(f(Math.sqrt(second)) / biasCorrection2Sqrt) + eps);
    p[i] = f(pi + f(f(mNew * negStepSize) / denom));
  }
}

function update64(
  p: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  vmax: Float64Array | null,
  decays: boolean,
  c: Coefficients,
): void {
  const { decay, small, lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps } = c;
  for (let i = 0; i < p.length; i++) {
    const pi = decays ? p[i]! * decay : p[i]!;
    const gi = g[i]!;
    const mi = m[i]!;
    const diff = gi - mi;
    const mNew = small ? mi + diff * lerpWeight : gi - diff * lerpWeight;
    m[i] = mNew;
    const vNew = v[i]! * beta2 + oneMinusBeta2 * gi * gi;
    v[i] = vNew;
    let second = vNew;
    if (vmax) {
      const previous = vmax[i]!;
      second = Math.max(previous, vNew);
      vmax[i] = second;
    }
    p[i] = pi + (mNew * negStepSize) / (Math.sqrt(second) / biasCorrection2Sqrt + eps);
  }
}
