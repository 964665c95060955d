import { accumulateReflectors } from './block-reflector.js';
import { checkMatrix } from './check-matrix.js';
import { diagonalizeTridiagonal, MAX_SWEEPS } from './tridiagonal-eigen.js';
import { tridiagonalize } from './tridiagonalize.js';
import { largestEntry, negateRow, permuteRows, safeScale, sortedOrder, transpose } from './vector-order.js';

/**
 * Symmetric eigendecomposition a = vectors·diag(values)·vectorsᵀ of a row-major n×n matrix, in float64:
 * Householder tridiagonalization, then implicit-shift QR on the tridiagonal (Golub & Van Loan, Matrix
 * Computations, 4th ed., §8.3). Only the lower triangle of `a` is read (numpy.linalg.eigh's default,
 * UPLO='L'); the strict upper triangle is taken to mirror it.
 *
 * values ascending; vectors n×n row-major with the eigenvectors as COLUMNS, orthonormal. Sign
 * convention: each eigenvector is flipped so that its entry of largest magnitude is positive (ties: the
 * first such entry). Eigenvectors of a repeated eigenvalue are any orthonormal basis of its eigenspace.
 * Throws LinalgError for NaN or Infinity anywhere in `a`, and if the QR iteration fails to split off an
 * eigenvalue within 75 sweeps (it normally needs two or three).
 */
export function eighHost(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  return eighWithSweepLimit(a, n, MAX_SWEEPS);
}

/** `eighHost` with the sweep limit as a parameter, so that tests can force non-convergence. */
export function eighWithSweepLimit(
  a: Float64Array,
  n: number,
  maxSweeps: number,
): { values: Float64Array; vectors: Float64Array } {
  checkMatrix('eigh', a, n, n);
  // Full symmetric working copy from the lower triangle, so that every update runs along rows.
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const value = a[i * n + j]!;
      w[i * n + j] = value;
      w[j * n + i] = value;
    }
  }
  const scale = safeScale(w);
  if (scale !== 1) for (let i = 0; i < w.length; i++) w[i] = w[i]! * scale;

  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  const tau = tridiagonalize(w, n, d, e);

  // Zᵀ starts as Qᵀ (Q = H₀⋯H_{n−3}, reflector k along row k of w); the QR iteration rotates its
  // rows, which end up as the eigenvectors.
  const zt = transpose(
    accumulateReflectors({ source: w, cols: n, firstOffset: 1, stride: 1, tau }, Math.max(n - 2, 0), n, n),
    n,
    n,
  );

  diagonalizeTridiagonal(d, e, zt, n, `${n}×${n}`, maxSweeps);

  for (let i = 0; i < n; i++) d[i] = d[i]! / scale;
  const order = sortedOrder(d, n, false);
  permuteRows(zt, n, order);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    values[i] = d[order[i]!]!;
    if (zt[largestEntry(zt, n, i)]! < 0) negateRow(zt, n, i);
  }
  return { values, vectors: transpose(zt, n, n) };
}
