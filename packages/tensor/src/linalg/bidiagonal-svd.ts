import { LinalgError } from '../errors.js';
import { isNegligible } from './negligible.js';
import { pythag, rotateRowSequence, rotateRows } from './plane-rotation.js';

/**
 * Implicit-shift QR sweeps allowed between two deflations at the bottom of the active block before giving
 * up; with Wilkinson shifts two or three normally suffice.
 */
export const MAX_SWEEPS = 75;

/**
 * Diagonalizes the upper bidiagonal B = diag(d) + superdiag(e) in place by implicit-shift QR
 * (Golub & Kahan 1965; Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.6.1–8.6.2):
 * B = Ub·Σ·Vbᵀ. The rotations are applied to the rows of `ut` (Uᵀ, k rows used of `utCols`
 * values each) and `vt` (Vᵀ), so that U·B·Vᵀ = (U·Ub)·Σ·(V·Vb)ᵀ. On return d holds the
 * singular values with signs, e is zero.
 *
 * Splitting: eᵢ is negligible as `isNegligible` says; dᵢ is negligible when |dᵢ| ≤ ε·‖B‖,
 * and then it is set to zero and the superdiagonal entry next to it is chased out with rotations,
 * which splits the problem (rank-deficient input). `label` names the matrix in the error message.
 */
export function diagonalizeBidiagonal(
  d: Float64Array,
  e: Float64Array,
  ut: Float64Array,
  utCols: number,
  vt: Float64Array,
  vtCols: number,
  label: string,
  maxSweeps: number = MAX_SWEEPS,
): void {
  const n = d.length;
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + (i < n - 1 ? Math.abs(e[i]!) : 0));
  const zeroTolerance = Number.EPSILON * norm;

  const rotations: SweepRotations = {
    rightCos: new Float64Array(n),
    rightSin: new Float64Array(n),
    leftCos: new Float64Array(n),
    leftSin: new Float64Array(n),
  };
  let hi = n - 1;
  let sweeps = 0;
  while (hi > 0) {
    if (isNegligible(e[hi - 1]!, d[hi - 1]!, d[hi]!)) {
      e[hi - 1] = 0;
      hi--;
      sweeps = 0;
      continue;
    }
    // The unreduced block lo..hi: every e in it is non-negligible.
    let lo = hi - 1;
    while (lo > 0) {
      if (isNegligible(e[lo - 1]!, d[lo - 1]!, d[lo]!)) {
        e[lo - 1] = 0;
        break;
      }
      lo--;
    }

    let zeroAt = -1;
    for (let i = lo; i <= hi; i++) {
      if (Math.abs(d[i]!) <= zeroTolerance) {
        d[i] = 0;
        zeroAt = i;
        break;
      }
    }
    if (zeroAt >= 0 && zeroAt < hi) {
      chaseRow(d, e, ut, utCols, zeroAt, hi);
      continue;
    }
    if (zeroAt === hi) {
      chaseColumn(d, e, vt, vtCols, lo, hi);
      continue;
    }

    if (++sweeps > maxSweeps) {
      throw new LinalgError(
        `[svd] did not converge after ${maxSweeps} QR sweeps on one singular value of a ${label} matrix`,
      );
    }
    qrSweep(d, e, ut, utCols, vt, vtCols, lo, hi, rotations);
  }
}

/**
 * dᵢ = 0 with i < hi: zero eᵢ by rotating row i against rows i+1…hi from the left; the entry being
 * chased moves one column right each time and falls off the end of the block.
 */
function chaseRow(
  d: Float64Array,
  e: Float64Array,
  ut: Float64Array,
  cols: number,
  i: number,
  hi: number,
): void {
  let f = e[i]!;
  e[i] = 0;
  for (let j = i + 1; j <= hi && f !== 0; j++) {
    const r = pythag(d[j]!, f);
    const c = d[j]! / r;
    const s = f / r;
    d[j] = r;
    rotateRows(ut, cols, j, i, c, s);
    if (j < hi) {
      f = -s * e[j]!;
      e[j] = c * e[j]!;
    }
  }
}

/** d_hi = 0: zero e_{hi−1} by rotating column hi against columns hi−1…lo from the right. */
function chaseColumn(
  d: Float64Array,
  e: Float64Array,
  vt: Float64Array,
  cols: number,
  lo: number,
  hi: number,
): void {
  let f = e[hi - 1]!;
  e[hi - 1] = 0;
  for (let j = hi - 1; j >= lo && f !== 0; j--) {
    const r = pythag(d[j]!, f);
    const c = d[j]! / r;
    const s = f / r;
    d[j] = r;
    rotateRows(vt, cols, j, hi, c, s);
    if (j > lo) {
      f = -s * e[j - 1]!;
      e[j - 1] = c * e[j - 1]!;
    }
  }
}

/** The cosines and sines of one sweep's rotations, applied to the vectors at its end. */
interface SweepRotations {
  rightCos: Float64Array;
  rightSin: Float64Array;
  leftCos: Float64Array;
  leftSin: Float64Array;
}

/**
 * One Golub–Kahan step on the block lo..hi: the first right rotation is the one QR on BᵀB − μI would
 * use, μ the eigenvalue of the trailing 2×2 of BᵀB nearer its last entry (Wilkinson shift); the bulge
 * it creates is chased down the block by alternating left and right rotations.
 */
function qrSweep(
  d: Float64Array,
  e: Float64Array,
  ut: Float64Array,
  utCols: number,
  vt: Float64Array,
  vtCols: number,
  lo: number,
  hi: number,
  rotations: SweepRotations,
): void {
  const { rightCos, rightSin, leftCos, leftSin } = rotations;
  const dm = d[hi - 1]!;
  const em = e[hi - 1]!;
  const dn = d[hi]!;
  const ep = hi - 1 > lo ? e[hi - 2]! : 0;
  const t11 = dm * dm + ep * ep;
  const t12 = dm * em;
  const t22 = dn * dn + em * em;
  const delta = (t11 - t22) / 2;
  const root = pythag(delta, t12);
  const denominator = delta >= 0 ? delta + root : delta - root;
  const mu = denominator === 0 ? t22 : t22 - t12 * (t12 / denominator);

  let y = d[lo]! * d[lo]! - mu;
  let z = d[lo]! * e[lo]!;
  for (let k = lo; k < hi; k++) {
    // Right rotation on columns k, k+1 zeroing z against y.
    let r = pythag(y, z);
    let c = r === 0 ? 1 : y / r;
    let s = r === 0 ? 0 : z / r;
    if (k > lo) e[k - 1] = r;
    const dk = d[k]!;
    const ek = e[k]!;
    const dk1 = d[k + 1]!;
    const diagonal = c * dk + s * ek;
    e[k] = c * ek - s * dk;
    const bulgeBelow = s * dk1;
    d[k + 1] = c * dk1;
    rightCos[k - lo] = c;
    rightSin[k - lo] = s;

    // Left rotation on rows k, k+1 zeroing the bulge below the diagonal.
    r = pythag(diagonal, bulgeBelow);
    c = r === 0 ? 1 : diagonal / r;
    s = r === 0 ? 0 : bulgeBelow / r;
    d[k] = r;
    const ekNew = e[k]!;
    const dk1New = d[k + 1]!;
    e[k] = c * ekNew + s * dk1New;
    d[k + 1] = c * dk1New - s * ekNew;
    leftCos[k - lo] = c;
    leftSin[k - lo] = s;
    if (k + 1 < hi) {
      y = e[k]!;
      z = s * e[k + 1]!;
      e[k + 1] = c * e[k + 1]!;
    }
  }
  rotateRowSequence(vt, vtCols, lo, rightCos, rightSin, hi - lo);
  rotateRowSequence(ut, utCols, lo, leftCos, leftSin, hi - lo);
}
