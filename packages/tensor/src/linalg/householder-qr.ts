import {
  accumulateReflectors,
  applyBlockLeft,
  BLOCK,
  blockWork,
  gatherBlock,
  type ReflectorStore,
} from './block-reflector.js';
import { checkMatrix } from './check-matrix.js';
import { householderInPlace, loadReflector, reflectLeft } from './householder.js';

/**
 * Reduced QR of a row-major m×n matrix: q is m×k (orthonormal columns), r is k×n upper triangular,
 * k = min(m, n).
 *
 * Householder QR computed the way LAPACK's dgeqrf + dorgqr do it: the reflector for column j maps
 * (α, x) to β·e₀ with β = −sign(α)·‖(α, x)‖, and a column whose part below the diagonal is already
 * zero gets no reflector (β = α). R's diagonal may therefore be negative, and q and r agree element
 * for element with numpy.linalg.qr and torch.linalg.qr (PEFT's OLoRA init uses Q[:, :r] and R[:r, :]
 * as they are). For a rank-deficient matrix the columns of q past the rank are determined by rounding
 * and agree with LAPACK's only up to that rounding. Golub & Van Loan, Matrix Computations, 4th ed.,
 * §5.2; blocked as in LAPACK (reflectors applied 32 at a time to the columns right of the panel).
 */
export function qrHost(a: Float64Array, m: number, n: number): { q: Float64Array; r: Float64Array } {
  checkMatrix('qr', a, m, n);
  const k = Math.min(m, n);
  // Working copy: R on and above the diagonal, reflector j below the diagonal of column j.
  const w = Float64Array.from(a);
  const tau = new Float64Array(k);
  const store: ReflectorStore = { source: w, cols: n, firstOffset: 0, stride: n, tau };
  const v = new Float64Array(m);
  const panelWork = new Float64Array(n);
  const work = blockWork();
  const y = new Float64Array(m * BLOCK);
  const t = new Float64Array(BLOCK * BLOCK);
  const z = new Float64Array(BLOCK);
  for (let j0 = 0; j0 < k; j0 += BLOCK) {
    const j1 = Math.min(j0 + BLOCK, k);
    // Panel: reflectors j0…j1−1, each applied at once only to the rest of the panel.
    for (let j = j0; j < j1; j++) {
      const offset = j * n + j;
      const tj = householderInPlace(w, offset, n, m - j);
      tau[j] = tj;
      if (tj === 0 || j + 1 >= j1) continue;
      loadReflector(v, w, offset, n, m - j);
      reflectLeft(w, n, v, tj, j, m, j + 1, j1, panelWork);
    }
    if (j1 < n) {
      gatherBlock(store, j0, j1, m - j0, y, t, z);
      applyBlockLeft(w, n, y, t, j1 - j0, m - j0, j0, j1, n, true, work);
    }
  }

  const r = new Float64Array(k * n);
  for (let i = 0; i < k; i++) r.set(w.subarray(i * n + i, i * n + n), i * n + i);
  return { q: accumulateReflectors(store, k, m, k), r };
}
