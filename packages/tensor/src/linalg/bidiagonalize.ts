import { householderInPlace, loadReflector, rowDot } from './householder.js';

/**
 * Householder bidiagonalization of a tall row-major m×n matrix (m ≥ n), in place: w = U_B·B·V_Bᵀ with
 * B upper bidiagonal, diagonal d (n) and superdiagonal e (n − 1). Step j applies left reflector j
 * (stored down column j below the diagonal) and then right reflector j (stored along row j right of the
 * superdiagonal); Golub & Van Loan, Matrix Computations, 4th ed., Alg. 5.4.2.
 *
 * The right reflector only depends on row j after the left update, so both updates of each row below
 * are done in one pass while the row is in cache: two passes over the trailing matrix per step, not four.
 */
export function bidiagonalize(
  w: Float64Array,
  m: number,
  n: number,
  d: Float64Array,
  e: Float64Array,
  tauLeft: Float64Array,
  tauRight: Float64Array,
): void {
  const left = new Float64Array(m);
  const right = new Float64Array(n);
  const work = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const diagonal = j * n + j;
    const tl = householderInPlace(w, diagonal, n, m - j);
    tauLeft[j] = tl;
    d[j] = w[diagonal]!;
    if (j + 1 >= n) break;
    const c0 = j + 1;
    const width = n - c0;

    // work = τ_L·vᵀ·W[j:, j+1:], then row j gets its left update.
    if (tl !== 0) {
      loadReflector(left, w, diagonal, n, m - j);
      work.fill(0, 0, width);
      // Four rows per pass over `work`: fewer loads and stores per multiply-add.
      let i = j;
      for (; i + 3 < m; i += 4) {
        const v0 = left[i - j]!;
        const v1 = left[i - j + 1]!;
        const v2 = left[i - j + 2]!;
        const v3 = left[i - j + 3]!;
        const r0 = i * n + c0;
        const r1 = r0 + n;
        const r2 = r1 + n;
        const r3 = r2 + n;
        for (let c = 0; c < width; c++) {
          work[c] = work[c]! + (v0 * w[r0 + c]! + v1 * w[r1 + c]! + (v2 * w[r2 + c]! + v3 * w[r3 + c]!));
        }
      }
      for (; i < m; i++) {
        const vi = left[i - j]!;
        const row = i * n + c0;
        for (let c = 0; c < width; c++) work[c] = work[c]! + vi * w[row + c]!;
      }
      for (let c = 0; c < width; c++) work[c] = work[c]! * tl;
      for (let c = 0; c < width; c++) w[diagonal + 1 + c] = w[diagonal + 1 + c]! - work[c]!;
    }

    const tr = householderInPlace(w, diagonal + 1, 1, width);
    tauRight[j] = tr;
    e[j] = w[diagonal + 1]!;
    if (tr !== 0) loadReflector(right, w, diagonal + 1, 1, width);

    if (tl === 0) work.fill(0, 0, width);
    if (tr === 0) right.fill(0, 0, width);
    // Rows below: left update fused with the dot product of the right update, two rows at a time so
    // that each load of work[c] and right[c] serves both.
    let i = j + 1;
    for (; i + 1 < m; i += 2) {
      const v0 = tl === 0 ? 0 : left[i - j]!;
      const v1 = tl === 0 ? 0 : left[i - j + 1]!;
      const r0 = i * n + c0;
      const r1 = r0 + n;
      let dot0 = 0;
      let dot1 = 0;
      for (let c = 0; c < width; c++) {
        const wc = work[c]!;
        const rc = right[c]!;
        const x0 = w[r0 + c]! - v0 * wc;
        const x1 = w[r1 + c]! - v1 * wc;
        w[r0 + c] = x0;
        w[r1 + c] = x1;
        dot0 += x0 * rc;
        dot1 += x1 * rc;
      }
      const f0 = tr * dot0;
      const f1 = tr * dot1;
      if (f0 === 0 && f1 === 0) continue;
      for (let c = 0; c < width; c++) {
        const rc = right[c]!;
        w[r0 + c] = w[r0 + c]! - f0 * rc;
        w[r1 + c] = w[r1 + c]! - f1 * rc;
      }
    }
    if (i < m) {
      const vi = tl === 0 ? 0 : left[i - j]!;
      const row = i * n + c0;
      for (let c = 0; c < width; c++) w[row + c] = w[row + c]! - vi * work[c]!;
      const f = tr * rowDot(w, row, right, width);
      if (f !== 0) for (let c = 0; c < width; c++) w[row + c] = w[row + c]! - f * right[c]!;
    }
  }
}
