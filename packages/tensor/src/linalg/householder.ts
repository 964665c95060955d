/**
 * Householder reflectors H = I − τ·v·vᵀ with v₀ = 1, stored and applied the way LAPACK does
 * (dlarfg, dlarf). All matrices are row-major Float64Arrays; `cols` is the row stride.
 */

/** ‖x‖₂ of `length` values at `offset` with `stride`; rescales only when squares would over/underflow. */
export function strideNorm(x: Float64Array, offset: number, stride: number, length: number): number {
  let sum = 0;
  for (let i = 0, p = offset; i < length; i++, p += stride) {
    const value = x[p]!;
    sum += value * value;
  }
  if (sum > 1e-290 && sum < 1e290) return Math.sqrt(sum);
  let scale = 0;
  for (let i = 0, p = offset; i < length; i++, p += stride) scale = Math.max(scale, Math.abs(x[p]!));
  if (scale === 0) return 0;
  sum = 0;
  for (let i = 0, p = offset; i < length; i++, p += stride) {
    const value = x[p]! / scale;
    sum += value * value;
  }
  return scale * Math.sqrt(sum);
}

/**
 * Overwrites x = (α, x₁, …) (`length` values at `offset`, `stride` apart) with (β, v₁, …) such that
 * H·x = β·e₀, and returns τ — LAPACK dlarfg: β = −sign(α)·‖x‖, τ = (β − α)/β, v = x₁…/(α − β).
 * If x₁… is zero, τ = 0 (H = I) and β = α keeps its sign, as in LAPACK; this is what makes
 * `qrHost` return numpy's and torch's R, whose diagonal may be negative.
 */
export function householderInPlace(x: Float64Array, offset: number, stride: number, length: number): number {
  if (length <= 1) return 0;
  let tailNorm = strideNorm(x, offset + stride, stride, length - 1);
  if (tailNorm === 0) return 0;
  let alpha = x[offset]!;
  let norm = Math.hypot(alpha, tailNorm);
  // A subnormal or nearly subnormal x has lost bits; as LAPACK does, scale it up (exactly, by powers of
  // two) so that v and τ are computed in full precision and H stays orthogonal, then scale β back.
  let rescalings = 0;
  while (norm < SAFE_MINIMUM && rescalings < 4) {
    for (let i = 0, p = offset; i < length; i++, p += stride) x[p] = x[p]! * UP;
    rescalings++;
    tailNorm = strideNorm(x, offset + stride, stride, length - 1);
    alpha = x[offset]!;
    norm = Math.hypot(alpha, tailNorm);
  }
  // Fortran SIGN(·, α) is negative for α = −0.0 too.
  const alphaNegative = alpha < 0 || (alpha === 0 && 1 / alpha < 0);
  const beta = alphaNegative ? norm : -norm;
  const scale = 1 / (alpha - beta);
  for (let i = 1, p = offset + stride; i < length; i++, p += stride) x[p] = x[p]! * scale;
  let scaledBeta = beta;
  for (let i = 0; i < rescalings; i++) scaledBeta *= DOWN;
  x[offset] = scaledBeta;
  return (beta - alpha) / beta;
}

/** LAPACK's safe minimum divided by ε: below it, a vector's norm is computed with lost precision. */
const SAFE_MINIMUM = 2 ** -969;
const UP = 2 ** 600;
const DOWN = 2 ** -600;

/**
 * Copies a reflector stored by `householderInPlace` into `v` (contiguous, v[0] = 1) so that it can be
 * applied with unit-stride inner loops.
 */
export function loadReflector(
  v: Float64Array,
  source: Float64Array,
  offset: number,
  stride: number,
  length: number,
): void {
  v[0] = 1;
  for (let i = 1, p = offset + stride; i < length; i++, p += stride) v[i] = source[p]!;
}

/**
 * mat[r0:r1, c0:c1] ← H·mat[r0:r1, c0:c1] with H = I − τ·v·vᵀ, v of length r1 − r0.
 * Two row-wise passes (w = vᵀ·M, then M −= τ·v·w) so every inner loop runs along a row.
 */
export function reflectLeft(
  mat: Float64Array,
  cols: number,
  v: Float64Array,
  tau: number,
  r0: number,
  r1: number,
  c0: number,
  c1: number,
  work: Float64Array,
): void {
  if (tau === 0 || c0 >= c1) return;
  work.fill(0, c0, c1);
  for (let i = r0; i < r1; i++) {
    const vi = v[i - r0]!;
    if (vi === 0) continue;
    const row = i * cols;
    for (let c = c0; c < c1; c++) work[c] = work[c]! + vi * mat[row + c]!;
  }
  for (let i = r0; i < r1; i++) {
    const f = tau * v[i - r0]!;
    if (f === 0) continue;
    const row = i * cols;
    for (let c = c0; c < c1; c++) mat[row + c] = mat[row + c]! - f * work[c]!;
  }
}

/**
 * Σ mat[offset + t]·v[t] for t < length. Four partial sums break the chain of dependent additions,
 * which otherwise limits a dot product to one term per floating-point add latency.
 */
export function rowDot(mat: Float64Array, offset: number, v: Float64Array, length: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let t = 0;
  for (; t + 3 < length; t += 4) {
    s0 += mat[offset + t]! * v[t]!;
    s1 += mat[offset + t + 1]! * v[t + 1]!;
    s2 += mat[offset + t + 2]! * v[t + 2]!;
    s3 += mat[offset + t + 3]! * v[t + 3]!;
  }
  for (; t < length; t++) s0 += mat[offset + t]! * v[t]!;
  return s0 + s1 + (s2 + s3);
}
