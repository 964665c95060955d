import { householderInPlace, rowDot } from './householder.js';

/**
 * Householder tridiagonalization of a symmetric n×n matrix held in full row-major storage, in place:
 * w = Q·T·Qᵀ, Q = H₀⋯H_{n−3} (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.3.1). Reflector k
 * zeroes row k (and by symmetry column k) beyond the off-diagonal and is applied from both sides as
 * one symmetric rank-2 update of the trailing block S: p = τ·S·v, q = p − (τ/2)(pᵀv)·v,
 * S ← S − v·qᵀ − q·vᵀ. Writes diag(T) to d and its off-diagonal to e, leaves reflector k in row k
 * (β at column k+1, v₁… after it; the layout `accumulateReflectors` reads with firstOffset 1) and
 * returns the τs.
 *
 * Reflector k+1 only needs row k+1 of S after update k, so it is formed as soon as that row is done,
 * and the product S·v of step k+1 is taken from each later row right after its update, while it is in
 * cache: one pass over the trailing block per step instead of two.
 */
export function tridiagonalize(w: Float64Array, n: number, d: Float64Array, e: Float64Array): Float64Array {
  const tau = new Float64Array(Math.max(n - 2, 0));
  let v = new Float64Array(n);
  let p = new Float64Array(n);
  let vNext = new Float64Array(n);
  let pNext = new Float64Array(n);
  if (n >= 3) {
    const length = n - 1;
    const t = householderInPlace(w, 1, 1, length);
    tau[0] = t;
    loadRowReflector(v, w, 1, length);
    for (let i = 0; i < length; i++) p[i] = t * rowDot(w, (1 + i) * n + 1, v, length);
  }
  for (let k = 0; k < n - 2; k++) {
    const base = k + 1;
    const length = n - base;
    const t = tau[k]!;
    d[k] = w[k * n + k]!;
    e[k] = w[k * n + base]!;
    if (t !== 0) {
      let pv = 0;
      for (let i = 0; i < length; i++) pv += p[i]! * v[i]!;
      const half = (t / 2) * pv;
      for (let i = 0; i < length; i++) p[i] = p[i]! - half * v[i]!;
      // Row `base` of the block first: reflector k+1 is formed from it.
      const row = base * n + base;
      const p0 = p[0]!;
      for (let j = 0; j < length; j++) w[row + j] = w[row + j]! - (p[j]! + p0 * v[j]!);
    }
    const hasNext = k + 1 < n - 2;
    let tNext = 0;
    if (hasNext) {
      tNext = householderInPlace(w, base * n + base + 1, 1, length - 1);
      tau[k + 1] = tNext;
      loadRowReflector(vNext, w, base * n + base + 1, length - 1);
    }
    if (t === 0 && tNext === 0) {
      // Nothing to update and S·v of the next step is not needed.
    } else {
      updateRows(w, n, base, length, t, v, p, tNext, vNext, pNext);
    }
    [v, vNext] = [vNext, v];
    [p, pNext] = [pNext, p];
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2]!;
    e[n - 2] = w[(n - 2) * n + n - 1]!;
  }
  if (n >= 1) d[n - 1] = w[(n - 1) * n + n - 1]!;
  return tau;
}

/** v = (1, w[offset + 1], …, w[offset + length − 1]): the reflector `householderInPlace` left in a row. */
function loadRowReflector(v: Float64Array, w: Float64Array, offset: number, length: number): void {
  v[0] = 1;
  for (let i = 1; i < length; i++) v[i] = w[offset + i]!;
}

/**
 * Rows base+1… of the block: S[i, 1:] −= v_i·q[1:] + q_i·v[1:] (column `base` itself is never read
 * again), then pNext[i−1] = τ_next·S[i, 1:]·vNext.
 */
function updateRows(
  w: Float64Array,
  n: number,
  base: number,
  length: number,
  t: number,
  v: Float64Array,
  q: Float64Array,
  tNext: number,
  vNext: Float64Array,
  pNext: Float64Array,
): void {
  const width = length - 1;
  // Shifted views so that inner loops index every array with the same c. With t = 0 (no update) or
  // tNext = 0 (no product) the zeroed vectors keep the loops branch-free.
  const vTail = v.subarray(1, length);
  const qTail = q.subarray(1, length);
  if (t === 0) {
    vTail.fill(0);
    qTail.fill(0);
  }
  if (tNext === 0) vNext.fill(0, 0, width);
  // Two rows at a time, so that each load of q, v and vNext serves both.
  let i = 1;
  for (; i + 1 < length; i += 2) {
    const r0 = (base + i) * n + base + 1;
    const r1 = r0 + n;
    const v0 = t === 0 ? 0 : v[i]!;
    const q0 = t === 0 ? 0 : q[i]!;
    const v1 = t === 0 ? 0 : v[i + 1]!;
    const q1 = t === 0 ? 0 : q[i + 1]!;
    let dot0 = 0;
    let dot1 = 0;
    for (let c = 0; c < width; c++) {
      const qc = qTail[c]!;
      const vc = vTail[c]!;
      const nc = vNext[c]!;
      const x0 = w[r0 + c]! - (v0 * qc + q0 * vc);
      const x1 = w[r1 + c]! - (v1 * qc + q1 * vc);
      w[r0 + c] = x0;
      w[r1 + c] = x1;
      dot0 += x0 * nc;
      dot1 += x1 * nc;
    }
    pNext[i - 1] = tNext * dot0;
    pNext[i] = tNext * dot1;
  }
  if (i < length) {
    const row = (base + i) * n + base + 1;
    const vi = t === 0 ? 0 : v[i]!;
    const qi = t === 0 ? 0 : q[i]!;
    for (let c = 0; c < width; c++) w[row + c] = w[row + c]! - (vi * qTail[c]! + qi * vTail[c]!);
    pNext[i - 1] = tNext * rowDot(w, row, vNext, width);
  }
}
