import { arange, eigh, eye, LinalgError, noGrad, svd, type Tensor } from '@lorakit/tensor';
import type { CordaMethod } from './corda-config.js';

/** The r singular triplets of W·C a CorDA adapter starts from (PEFT's `CordaEigens`). */
export interface CordaEigens {
  /** S_WC [r]. */
  readonly s: Tensor;
  /** U_WC [out, r]: left singular vectors of W·C. */
  readonly u: Tensor;
  /** V_WC [in, r]: (Vh·C⁻¹)ᵀ — not orthonormal; W = U·diag(S)·Vᵀ exactly over all components. */
  readonly v: Tensor;
}

/** The full decomposition of one layer before cropping to a rank. */
export interface CordaDecomposition extends CordaEigens {
  /** The damping factor λ that made C + λ·mean(diag C)·I invertible to the required accuracy. */
  readonly damping: number;
}

/** PEFT's acceptance threshold for ‖C_fix·C_fix⁻¹ − I‖_F and its first damping factor. */
const INVERSE_TOLERANCE = 0.05;
const FIRST_DAMPING = 0.01;
const MAX_DOUBLINGS = 64;

/**
 * Inverse of a symmetric positive definite matrix through its eigendecomposition (float64), returned
 * in float32 like PEFT's `torch.linalg.inv` on a float32 matrix. An eigenvalue of 0 gives non-finite
 * entries, which the caller's accuracy check rejects.
 */
export function invertSymmetric(matrix: Tensor): Tensor {
  return noGrad(() => {
    const { values, vectors } = eigh(matrix.double());
    return vectors.mul(values.reciprocal().unsqueeze(0)).matmul(vectors.T).float();
  });
}

/**
 * CorDA's context-oriented SVD of one layer — Yang et al., "CorDA: Context-Oriented Decomposition
 * Adaptation of Large Language Models for Task-Aware Parameter-Efficient Fine-tuning" (NeurIPS 2024,
 * arXiv:2406.05223), as PEFT computes it:
 *
 * 1. damp the input covariance until it inverts accurately: C_fix = C + λ·mean(diag C)·I with
 *    λ = 0.01, 0.02, 0.04, … until ‖C_fix·C_fix⁻¹ − I‖_F < 0.05 (both in float32);
 * 2. SVD of the covariance-weighted weight W·C_fix = U·diag(S)·Vh;
 * 3. V = (Vh·C_fix⁻¹)ᵀ, so that W = U·diag(S)·Vᵀ.
 *
 * @param weight W [out, in] float32 (nn.Linear layout)
 * @param covariance C [in, in], the layer's averaged uncentered input covariance
 */
export function cordaDecomposition(weight: Tensor, covariance: Tensor): CordaDecomposition {
  const n = covariance.shape[0]!;
  if (covariance.rank !== 2 || covariance.shape[1] !== n || weight.rank !== 2 || weight.shape[1] !== n) {
    throw new LinalgError(
      `[cordaDecomposition] needs W [out, in] and C [in, in], received W [${weight.shape.join(', ')}] and C [${covariance.shape.join(', ')}]`,
    );
  }
  return noGrad(() => {
    const c = covariance.float();
    if (c.isnan().logicalOr(c.isinf()).any().item()) {
      throw new LinalgError('[cordaDecomposition] the covariance has NaN or infinite entries');
    }
    const identity = eye(n, n, { backend: c.backend.name });
    const diagonal = c.reshape(n * n).indexSelect(0, arange(0, n * n, n + 1, { backend: c.backend.name }));
    const meanDiagonal = diagonal.mean().item();
    if (!(Number.isFinite(meanDiagonal) && meanDiagonal > 0)) {
      throw new LinalgError(
        `[cordaDecomposition] the covariance's mean diagonal is ${meanDiagonal}; it must be a positive number (were the calibration inputs all zero?)`,
      );
    }
    let damping = FIRST_DAMPING;
    for (let doublings = 0; ; doublings++) {
      const fixed = c.add(identity.mul(meanDiagonal * damping));
      const inverse = invertSymmetric(fixed);
      const error = fixed.matmul(inverse).sub(identity).norm().item();
      if (error < INVERSE_TOLERANCE) {
        const { u, s, vh } = svd(weight.float().matmul(fixed));
        return { u, s, v: vh.matmul(inverse).T.contiguous(), damping };
      }
      if (doublings === MAX_DOUBLINGS) {
        throw new LinalgError(
          `[cordaDecomposition] the damped covariance did not invert to ‖C·C⁻¹ − I‖ < ${INVERSE_TOLERANCE} after ${MAX_DOUBLINGS} doublings of the damping (last error ${error})`,
        );
      }
      damping *= 2;
    }
  });
}

/**
 * Keeps r components: the r largest singular values for `ipm`, the r smallest for `kpm`
 * (PEFT's `crop_corda_eigens`).
 */
export function cropCordaEigens(full: CordaEigens, rank: number, method: CordaMethod): CordaEigens {
  const k = full.s.shape[0]!;
  if (!Number.isInteger(rank) || rank < 1 || rank > k) {
    throw new LinalgError(
      `[cropCordaEigens] rank must be an integer in [1, ${k}] (the layer has ${k} components), received ${rank}`,
    );
  }
  const start = method === 'ipm' ? 0 : k - rank;
  return {
    s: full.s.narrow(0, start, rank).contiguous(),
    u: full.u.narrow(1, start, rank).contiguous(),
    v: full.v.narrow(1, start, rank).contiguous(),
  };
}
