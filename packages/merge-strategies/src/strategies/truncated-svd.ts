import { MergeError } from '@lorakit/lora';
import { cat, type Generator, qr, svd, svdLowrank, type Tensor, tensor } from '@lorakit/tensor';

/** A rank-k factorization D ≈ B·A with all singular values on B: B = U_k·diag(S_k), A = Vᴴ_k. */
export interface RankFactors {
  /** [m, k] */
  readonly b: Tensor;
  /** [k, n] */
  readonly a: Tensor;
}

/**
 * The best rank-k approximation of a dense matrix (Eckart–Young) from its full SVD, as PEFT's SVD merges
 * compute it: B = U[:, :k]·diag(S[:k]), A = Vh[:k]. Computed in float64, returned in `d`'s dtype. Signs
 * follow @lorakit/tensor's convention (the largest-magnitude entry of each column of U is positive).
 */
export function truncatedSvd(d: Tensor, k: number): RankFactors {
  const { u, s, vh } = svd(d.double());
  const rank = Math.min(k, s.shape[0]!);
  return finish(u.narrow(1, 0, rank), s.narrow(0, 0, rank), vh.narrow(0, 0, rank), d.dtype === 'float64');
}

/**
 * The same truncation from the randomized SVD of `torch.svd_lowrank` (Halko, Martinsson and Tropp,
 * "Finding Structure with Randomness", SIAM Review 2011, Alg. 4.4): a sketch of k + `oversample` columns
 * refined by `niter` power iterations. An approximation: its error depends on how fast the singular
 * values decay after the k-th.
 */
export function randomizedTruncatedSvd(
  d: Tensor,
  k: number,
  options: { niter?: number; oversample?: number; generator?: Generator | undefined } = {},
): RankFactors {
  const [m, n] = d.shape as [number, number];
  const q = Math.min(k + (options.oversample ?? 10), m, n);
  const { u, s, v } = svdLowrank(d.double(), q, options.niter ?? 4, { generator: options.generator });
  const rank = Math.min(k, q);
  const signed = signColumns(u.narrow(1, 0, rank), v.narrow(1, 0, rank).T);
  return finish(signed.u, s.narrow(0, 0, rank), signed.vh, d.dtype === 'float64');
}

/**
 * The exact rank-k truncated SVD of a product D = L·R (L [m, p], R [p, n], p < min(m, n)) without
 * forming D: with L = Q₁R₁ and Rᵀ = Q₂R₂ (thin QR), D = Q₁·(R₁R₂ᵀ)·Q₂ᵀ, so the SVD of the p×p core
 * U_c·S·V_cᵀ gives D's SVD U = Q₁U_c, V = Q₂V_c. Cost O((m + n)p²) instead of O(mn·min(m, n)). Signs
 * are then normalized as `svd` does, so the result equals `truncatedSvd(L·R, k)` up to rounding.
 */
export function truncatedSvdOfProduct(left: Tensor, right: Tensor, k: number): RankFactors {
  const p = left.shape[1]!;
  if (right.shape[0] !== p) {
    throw new MergeError(
      `[truncatedSvdOfProduct] inner dimensions differ: left is [${left.shape.join(', ')}], right is [${right.shape.join(', ')}]`,
    );
  }
  const outFloat64 = left.dtype === 'float64';
  const l = qr(left.double());
  const r = qr(right.double().T.contiguous());
  const core = svd(l.r.matmul(r.r.T));
  const rank = Math.min(k, core.s.shape[0]!);
  const u = l.q.matmul(core.u.narrow(1, 0, rank));
  const vh = core.vh.narrow(0, 0, rank).matmul(r.q.T);
  const signed = signColumns(u, vh);
  return finish(signed.u, core.s.narrow(0, 0, rank), signed.vh, outFloat64);
}

/**
 * @lorakit/tensor's SVD sign convention applied to factors from elsewhere: flip each (uᵢ, vᵢ) pair so
 * that the first entry of largest magnitude in uᵢ is positive.
 */
function signColumns(u: Tensor, vh: Tensor): { u: Tensor; vh: Tensor } {
  const [m, k] = u.shape as [number, number];
  const host = u.contiguous().toArray() as Float64Array;
  const signs = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let best = 0;
    let bestAbs = -1;
    for (let i = 0; i < m; i++) {
      const value = host[i * k + j]!;
      if (Math.abs(value) > bestAbs) {
        bestAbs = Math.abs(value);
        best = value;
      }
    }
    signs[j] = best < 0 ? -1 : 1;
  }
  const columnSigns = tensor(signs, { shape: [1, k], backend: u.backend.name });
  return { u: u.mul(columnSigns), vh: vh.mul(columnSigns.T) };
}

function finish(u: Tensor, s: Tensor, vh: Tensor, float64: boolean): RankFactors {
  const b = u.mul(s.unsqueeze(0));
  return float64 ? { b, a: vh.contiguous() } : { b: b.float(), a: vh.float() };
}

/**
 * PEFT's `svd_clamp`: hi = the q-quantile (linear interpolation) of all entries of B and A together,
 * then both are clamped to [−hi, hi]. The quantile is over signed entries, so it depends on the sign
 * chosen for each singular pair (see the PEFT 0.21 notes: compare clamped merges up to sign).
 */
export function clampFactors(factors: RankFactors, q: number): RankFactors {
  if (!(typeof q === 'number' && q >= 0 && q <= 1)) {
    throw new MergeError(`[svd_clamp] svd_clamp must be a quantile in [0, 1], received ${String(q)}`);
  }
  const hi = cat([factors.b.reshape([-1]), factors.a.reshape([-1])])
    .quantile(q)
    .item();
  return { b: factors.b.clamp(-hi, hi), a: factors.a.clamp(-hi, hi) };
}
