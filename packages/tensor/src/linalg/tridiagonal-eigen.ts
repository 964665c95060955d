import { LinalgError } from '../errors.js';
import { isNegligible } from './negligible.js';
import { pythag, rotateRowSequence } from './plane-rotation.js';

/**
 * Implicit QR sweeps allowed between two deflations at the bottom of the active block before giving up;
 * with Wilkinson shifts two or three normally suffice.
 */
export const MAX_SWEEPS = 75;

/**
 * Diagonalizes the symmetric tridiagonal T = diag(d) + offdiag(e) in place by implicit QR with
 * Wilkinson shifts (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.3.2): T = Z·Λ·Zᵀ. The
 * rotations are applied to the rows of `zt` (Zᵀ, `cols` values per row), so rows of zt that held Qᵀ
 * end up holding the eigenvectors of Q·T·Qᵀ. On return d holds the eigenvalues (unsorted).
 *
 * eᵢ is negligible as `isNegligible` says. `label` names the matrix in the error message.
 */
export function diagonalizeTridiagonal(
  d: Float64Array,
  e: Float64Array,
  zt: Float64Array,
  cols: number,
  label: string,
  maxSweeps: number = MAX_SWEEPS,
): void {
  // One sweep's rotations, applied to the vectors at its end.
  const cosines = new Float64Array(d.length);
  const sines = new Float64Array(d.length);
  let hi = d.length - 1;
  let sweeps = 0;
  while (hi > 0) {
    if (isNegligible(e[hi - 1]!, d[hi - 1]!, d[hi]!)) {
      e[hi - 1] = 0;
      hi--;
      sweeps = 0;
      continue;
    }
    let lo = hi - 1;
    while (lo > 0) {
      if (isNegligible(e[lo - 1]!, d[lo - 1]!, d[lo]!)) {
        e[lo - 1] = 0;
        break;
      }
      lo--;
    }
    if (++sweeps > maxSweeps) {
      throw new LinalgError(
        `[eigh] did not converge after ${maxSweeps} QR sweeps on one eigenvalue of a ${label} matrix`,
      );
    }
    qrSweep(d, e, zt, cols, lo, hi, cosines, sines);
  }
}

/**
 * One implicit symmetric QR step on the block lo..hi: the first rotation is that of QR on T − μI, μ the
 * eigenvalue of the trailing 2×2 nearer its last entry; the bulge it makes is chased down the block.
 */
function qrSweep(
  d: Float64Array,
  e: Float64Array,
  zt: Float64Array,
  cols: number,
  lo: number,
  hi: number,
  cosines: Float64Array,
  sines: Float64Array,
): void {
  const b = e[hi - 1]!;
  const delta = (d[hi - 1]! - d[hi]!) / 2;
  const root = pythag(delta, b);
  const denominator = delta >= 0 ? delta + root : delta - root;
  const mu = d[hi]! - b * (b / denominator);

  let x = d[lo]! - mu;
  let z = e[lo]!;
  for (let k = lo; k < hi; k++) {
    // Rotation J in the (k, k+1) plane with Jᵀ·(x, z) = (r, 0); T ← Jᵀ·T·J.
    const r = pythag(x, z);
    const c = r === 0 ? 1 : x / r;
    const s = r === 0 ? 0 : z / r;
    if (k > lo) e[k - 1] = r;
    const a = d[k]!;
    const off = e[k]!;
    const next = d[k + 1]!;
    const cs = c * s;
    const twoCsOff = 2 * cs * off;
    d[k] = c * c * a + twoCsOff + s * s * next;
    d[k + 1] = s * s * a - twoCsOff + c * c * next;
    e[k] = cs * (next - a) + (c * c - s * s) * off;
    cosines[k - lo] = c;
    sines[k - lo] = s;
    if (k + 1 < hi) {
      x = e[k]!;
      z = s * e[k + 1]!;
      e[k + 1] = c * e[k + 1]!;
    }
  }
  rotateRowSequence(zt, cols, lo, cosines, sines, hi - lo);
}
