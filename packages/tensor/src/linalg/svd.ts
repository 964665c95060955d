import { diagonalizeBidiagonal, MAX_SWEEPS } from './bidiagonal-svd.js';
import { bidiagonalize } from './bidiagonalize.js';
import { accumulateReflectors } from './block-reflector.js';
import { checkMatrix } from './check-matrix.js';
import { largestEntry, negateRow, permuteRows, safeScale, sortedOrder, transpose } from './vector-order.js';

/**
 * SVD of a row-major m×n matrix, a = u·diag(s)·vh, in float64 by Golub–Kahan–Reinsch: Householder
 * bidiagonalization, then implicit-shift QR on the bidiagonal (Golub & Van Loan, Matrix Computations,
 * 4th ed., §8.6). A wide matrix is decomposed through its transpose.
 *
 * - full = false: u is m×k, s has k values, vh is k×n, k = min(m, n).
 * - full = true: u is m×m and vh is n×n; the columns of u (rows of vh) past k complete them to
 *   orthonormal bases (any completion; it is not unique).
 *
 * Singular values are non-negative and descending. Sign convention: each pair (uᵢ, vᵢ), i < k, is
 * flipped so that the entry of largest absolute value in uᵢ is positive (ties: the first such entry).
 * LAPACK fixes no signs, so numpy's u and vh may differ from these by the sign of a pair.
 *
 * Accuracy is normwise: ‖a − u·diag(s)·vh‖ and the error of every singular value are a small multiple
 * of ε·‖a‖. Throws LinalgError for NaN or Infinity in `a`, and if the QR iteration fails to split off
 * a singular value within 75 sweeps (it normally needs two or three).
 */
export function svdHost(
  a: Float64Array,
  m: number,
  n: number,
  full: boolean,
): { u: Float64Array; s: Float64Array; vh: Float64Array } {
  return svdWithSweepLimit(a, m, n, full, MAX_SWEEPS);
}

/** `svdHost` with the sweep limit as a parameter, so that tests can force non-convergence. */
export function svdWithSweepLimit(
  a: Float64Array,
  m: number,
  n: number,
  full: boolean,
  maxSweeps: number,
): { u: Float64Array; s: Float64Array; vh: Float64Array } {
  checkMatrix('svd', a, m, n);
  const k = Math.min(m, n);
  if (k === 0) {
    return {
      u: full ? identity(m) : new Float64Array(0),
      s: new Float64Array(0),
      vh: full ? identity(n) : new Float64Array(0),
    };
  }
  const label = `${m}×${n}`;
  if (m >= n) {
    const { left, s, right } = tallSvd(Float64Array.from(a), m, n, full, label, maxSweeps);
    orientPairs(left, m, right, n, k);
    return { u: transpose(left, full ? m : n, m), s, vh: right };
  }
  // a = (aᵀ)ᵀ = (U'·Σ·V'ᵀ)ᵀ = V'·Σ·U'ᵀ: the roles of the two bases swap.
  const { left, s, right } = tallSvd(transpose(a, m, n), n, m, full, label, maxSweeps);
  orientPairs(right, m, left, n, k);
  return { u: transpose(right, m, m), s, vh: left };
}

/**
 * SVD of a tall m×n matrix (m ≥ n ≥ 1), overwriting `w`. Returns the left singular vectors as the rows
 * of `left` (n rows, or m rows for `full`), s descending, and the right singular vectors as the rows of
 * the n×n `right`.
 */
function tallSvd(
  w: Float64Array,
  m: number,
  n: number,
  full: boolean,
  label: string,
  maxSweeps: number,
): { left: Float64Array; s: Float64Array; right: Float64Array } {
  const scale = safeScale(w);
  if (scale !== 1) for (let i = 0; i < w.length; i++) w[i] = w[i]! * scale;

  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  const tauLeft = new Float64Array(n);
  const tauRight = new Float64Array(n);
  bidiagonalize(w, m, n, d, e, tauLeft, tauRight);

  // U = H₀⋯H_{n−1}·[I_p; 0] and V = G₀⋯G_{n−2}, blocked; the QR iteration then works on their
  // transposes, whose rows (the singular vectors) are contiguous.
  const p = full ? m : n;
  const left = transpose(
    accumulateReflectors({ source: w, cols: n, firstOffset: 0, stride: n, tau: tauLeft }, n, m, p),
    m,
    p,
  );
  const right = transpose(
    accumulateReflectors({ source: w, cols: n, firstOffset: 1, stride: 1, tau: tauRight }, n - 1, n, n),
    n,
    n,
  );

  diagonalizeBidiagonal(d, e, left, m, right, n, label, maxSweeps);

  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const value = d[i]!;
    if (value < 0) negateRow(right, n, i);
    s[i] = Math.abs(value) / scale;
  }
  const order = sortedOrder(s, n, true);
  permuteRows(left, m, order);
  permuteRows(right, n, order);
  const sorted = new Float64Array(n);
  for (let i = 0; i < n; i++) sorted[i] = s[order[i]!]!;
  return { left, s: sorted, right };
}

/** Flips pairs (uᵢ, vᵢ), i < k, so that the largest-magnitude entry of uᵢ is positive. */
function orientPairs(u: Float64Array, uCols: number, v: Float64Array, vCols: number, k: number): void {
  for (let i = 0; i < k; i++) {
    if (u[largestEntry(u, uCols, i)]! < 0) {
      negateRow(u, uCols, i);
      negateRow(v, vCols, i);
    }
  }
}

function identity(size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) out[i * size + i] = 1;
  return out;
}
