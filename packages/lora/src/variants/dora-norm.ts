import { type Dtype, noGrad, type Tensor } from '@lorakit/tensor';

/**
 * DoRA's weight norm ‖W + s·B·A‖ per output row (W [out, in] in Linear layout, A [r, in], B [out, r]),
 * detached as in the paper (§4.3) and PEFT. The composed form builds the [out, in] sum; the factored form
 * expands the square row by row,
 *
 *   ‖W_o + s·(BA)_o‖² = ‖W_o‖² + 2s · Σ_ρ B[o,ρ]·(W·Aᵀ)[o,ρ] + s² · B_o·(A·Aᵀ)·B_oᵀ,
 *
 * so a step reads W once, in its own dtype, for one [out, r] GEMM, plus an [r, r] Gram matrix and
 * O(out·r²) work — no [out, in] temporary. ‖W_o‖² depends on the frozen base weight only and is cached
 * ({@link squaredRowNorm}).
 *
 * Precision: the expanded form sums three terms that can be large and of opposite sign. When s·BA is tiny
 * next to W, the norm is ‖W_o‖ to within float32 rounding of ‖W_o‖² — the absolute error of the squared
 * norm is a few ulps of ‖W_o‖², i.e. a relative error of about 1e-7 in the norm — even though the tiny
 * difference ‖W + sBA‖ − ‖W‖ itself is not resolved better than that. The norm is what DoRA uses, so this
 * is fine. Only if W + sBA nearly cancels a row (‖W_o + s(BA)_o‖ ≪ ‖W_o‖) would the relative error of
 * that row's norm grow; the squared norm is clamped at 0 before the square root so it never turns NaN.
 * A 16-bit W is multiplied by float32 A as stored (float32 precision); only for r > 64 on a backend that
 * computes 16-bit natively does W·Aᵀ run in W's dtype (A and the [out, r] result rounded to it), still
 * within the precision of PEFT's bf16 forward, which rounds W + s·BA.
 */

/** float64 when any input is, else float32: the dtype the norm is computed in. */
function normDtype(...tensors: Tensor[]): Dtype {
  return tensors.some((t) => t.dtype === 'float64') ? 'float64' : 'float32';
}

/** The widest rank cuda's mixed 16-bit · float32 products take without widening the 16-bit side. */
const MIXED_PRODUCT_RANK = 64;

function isHalf(dtype: Dtype): boolean {
  return dtype === 'float16' || dtype === 'bfloat16';
}

/** Σ of squares of `weight` over `axes`, in float32 (float64 for a float64 weight), detached. */
export function squaredRowNorm(weight: Tensor, axes: readonly number[]): Tensor {
  return noGrad(() =>
    weight
      .detach()
      .cast(normDtype(weight))
      .square()
      .sum([...axes]),
  );
}

/**
 * W·Aᵀ [out, r] with A in `dtype`, read in W's layout: a W stored transposed (GPT-2's Conv1D, an
 * embedding's Wᵀ) is multiplied as (A·Wᵀ)ᵀ so that both GEMM operands are row-major; otherwise Aᵀ is
 * made contiguous by the cast (one small copy). Both run faster on the cpu backend's GEMM than a
 * strided operand, and are the same to cuBLAS.
 */
function weightTimesAT(w: Tensor, a: Tensor, dtype: Dtype): Tensor {
  if (w.strides[0] === 1 && w.strides[1] !== 1) return castContiguous(a, dtype).matmul(w.T).T;
  return w.matmul(castContiguous(a.T, dtype));
}

/** `t` in `dtype`, contiguous, in one copy at most (a cast writes row-major). */
function castContiguous(t: Tensor, dtype: Dtype): Tensor {
  return t.dtype === dtype ? t.contiguous() : t.cast(dtype);
}

/** ‖W + s·B·A‖ per row by building the [out, in] sum: the reference for {@link doraWeightNorm}. */
export function doraWeightNormComposed(weight: Tensor, a: Tensor, b: Tensor, scale: number): Tensor {
  return noGrad(() => {
    const dtype = normDtype(weight, a, b);
    const product = b.detach().cast(dtype).matmul(a.detach().cast(dtype));
    return weight.detach().cast(dtype).add(product.mul(scale)).square().sum(1).sqrt();
  });
}

/**
 * ‖W + s·B·A‖ per row without forming W + s·BA. `weightSquaredNorm` is ‖W_o‖² per row
 * ({@link squaredRowNorm} of W over its input dim; pass a cached one). `weight` may be any strided view
 * (a transposed GPT-2 Conv1D weight is read in place).
 */
export function doraWeightNorm(
  weight: Tensor,
  a: Tensor,
  b: Tensor,
  scale: number,
  weightSquaredNorm: Tensor,
): Tensor {
  return noGrad(() => {
    const dtype = normDtype(weight, a, b);
    const w = weight.detach();
    const aDetached = a.detach();
    // W is never cast (that would copy it). A 16-bit W meets float32 A in a mixed product, read as
    // stored: cuda multiplies 16-bit · float32 directly when one side is at most 64 wide (its skinny
    // products), js and cpu through their cached float32 decode of 16-bit storage. A wider rank on a
    // backend computing 16 bits natively (fusedHalfPrecision) would widen W there, so A is rounded to
    // W's dtype instead: a 16-bit GEMM, float32 accumulation, the [out, r] result rounded once.
    const halfGemm =
      isHalf(w.dtype) && w.backend.fusedHalfPrecision === true && aDetached.shape[0]! > MIXED_PRODUCT_RANK;
    const aDtype = halfGemm || !isHalf(w.dtype) ? w.dtype : dtype;
    const wa = weightTimesAT(w, aDetached, aDtype).cast(dtype);
    const af = aDetached.cast(dtype);
    const bf = b.detach().cast(dtype);
    const cross = bf.mul(wa).sum(1);
    const quadratic = bf.matmul(af.matmul(af.T)).mul(bf).sum(1);
    return weightSquaredNorm
      .cast(dtype)
      .add(cross.mul(2 * scale))
      .add(quadratic.mul(scale * scale))
      .clamp(0)
      .sqrt();
  });
}

interface CachedNorm {
  readonly version: number;
  readonly value: Tensor;
}

/**
 * ‖W‖² over `axes` per base weight tensor. An entry is valid for one tensor object (a reloaded or moved
 * weight is a new object) at one {@link Tensor.version} (every in-place write — merge, unmerge,
 * `writeBaseWeight`, `loadStateDict({ assign: false })` — bumps it), so a stale value is never returned.
 * Keyed weakly: a dropped weight frees its entries.
 */
const squaredNormCache = new WeakMap<Tensor, Map<string, CachedNorm>>();

/**
 * {@link squaredRowNorm} of a base weight, computed once per weight and version. The value is kept out of
 * `tidy` scopes; the one it replaces is disposed.
 */
export function cachedSquaredRowNorm(weight: Tensor, axes: readonly number[]): Tensor {
  let entries = squaredNormCache.get(weight);
  if (!entries) {
    entries = new Map();
    squaredNormCache.set(weight, entries);
  }
  const key = axes.join(',');
  const hit = entries.get(key);
  if (hit && hit.version === weight.version && !hit.value.disposed) return hit.value;
  hit?.value.dispose();
  const value = squaredRowNorm(weight, axes).keep();
  entries.set(key, { version: weight.version, value });
  return value;
}
