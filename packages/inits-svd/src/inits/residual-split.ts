import { LinalgError, type Tensor } from '@lorakit/tensor';

/** What a residual init produces: the adapter factors and the base weight that remains. */
export interface ResidualInit {
  /** lora_A, [r, in]. */
  readonly a: Tensor;
  /** lora_B, [out, r]. */
  readonly b: Tensor;
  /** W_res = W − s·B·A, [out, in] (float32): the new frozen base weight. */
  readonly residual: Tensor;
}

/**
 * Splits r singular triplets of W between the two factors, the convention PiSSA and CorDA share:
 * with S' = S / s, A = diag(√S')·Vhᵣ and B = Uᵣ·diag(√S'), so s·B·A = Uᵣ·diag(S)·Vhᵣ and
 * BᵀB = A·Aᵀ = diag(S/s) when Uᵣ and Vhᵣ are orthonormal. The residual W − s·B·A is formed from the
 * factors as stored, so `W_res + s·B·A` reproduces W up to float32 rounding whatever the triplets are.
 *
 * @param weight W [out, in], float32
 * @param u Uᵣ [out, r]
 * @param s the r singular values (undivided)
 * @param vh Vhᵣ [r, in]
 * @param scaling the adapter's scaling s (α/r, or α/√r with rsLoRA)
 */
export function splitSingularTriplets(
  weight: Tensor,
  u: Tensor,
  s: Tensor,
  vh: Tensor,
  scaling: number,
): ResidualInit {
  if (!(Number.isFinite(scaling) && scaling > 0)) {
    throw new LinalgError(`[splitSingularTriplets] scaling must be a positive number, received ${scaling}`);
  }
  const root = s.div(scaling).sqrt();
  const a = vh.mul(root.unsqueeze(1));
  const b = u.mul(root.unsqueeze(0));
  // PEFT evaluates `W − scaling * B @ A` as (s·B)·A; the same order keeps the rounding identical.
  const residual = weight.sub(b.mul(scaling).matmul(a));
  return { a, b, residual };
}
