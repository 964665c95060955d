/**
 * Blocked Householder products (Schreiber & Van Loan's compact WY form, LAPACK dlarft/dlarfb):
 * H_j⋯H_{j+b−1} = I − Y·T·Yᵀ with Y the b reflectors side by side and T b×b upper triangular. Applying
 * b reflectors at once reads the target matrix twice per block instead of twice per reflector.
 *
 * Reflector j (as left by `householderInPlace`) has its element i, i ≥ 1, at
 * source[j·(cols + 1) + firstOffset + i·stride]: down column j from the diagonal for QR and the left
 * bidiagonalization reflectors (firstOffset 0, stride cols), along row j right of the diagonal for the
 * right ones and for tridiagonalization (firstOffset 1, stride 1). Reflector j acts on indices
 * j + shift, …, size − 1, with shift = firstOffset.
 */
export interface ReflectorStore {
  source: Float64Array;
  /** Row length of `source`. */
  cols: number;
  firstOffset: number;
  stride: number;
  tau: Float64Array;
}

/** Reflectors per block. */
export const BLOCK = 32;
/** Columns per chunk in `applyBlockLeft`, so that the BLOCK×CHUNK work panel stays in L1 cache. */
const CHUNK = 128;

/**
 * Fills y (length×b, row-major, b = j1 − j0) with reflectors j0…j1−1 aligned on the rows they act on
 * (column l starts with its implicit 1 on row l) and t (b×b) with the T of I − Y·T·Yᵀ = H_{j0}⋯H_{j1−1}:
 * T[l, l] = τ_l, T[0:l, l] = −τ_l·T[0:l, 0:l]·(Y[:, 0:l]ᵀ·Y[:, l]).
 */
export function gatherBlock(
  store: ReflectorStore,
  j0: number,
  j1: number,
  length: number,
  y: Float64Array,
  t: Float64Array,
  z: Float64Array,
): void {
  const { source, cols, firstOffset, stride, tau } = store;
  const b = j1 - j0;
  y.fill(0, 0, length * b);
  for (let l = 0; l < b; l++) {
    const base = (j0 + l) * (cols + 1) + firstOffset;
    y[l * b + l] = 1;
    for (let i = l + 1, p = base + stride; i < length; i++, p += stride) y[i * b + l] = source[p]!;
  }
  t.fill(0, 0, b * b);
  for (let l = 0; l < b; l++) {
    const tl = tau[j0 + l]!;
    t[l * b + l] = tl;
    if (tl === 0 || l === 0) continue;
    z.fill(0, 0, l);
    for (let i = l; i < length; i++) {
      const yil = y[i * b + l]!;
      if (yil === 0) continue;
      const row = i * b;
      for (let p = 0; p < l; p++) z[p] = z[p]! + y[row + p]! * yil;
    }
    for (let p = 0; p < l; p++) {
      let sum = 0;
      for (let q = p; q < l; q++) sum += t[p * b + q]! * z[q]!;
      t[p * b + l] = -tl * sum;
    }
  }
}

/**
 * c[r0 : r0+length, c0 : c1] ← (I − Y·T·Yᵀ)·c, or with `transposeT` (I − Y·Tᵀ·Yᵀ)·c, the transpose of
 * the block product, which is what applies H_{j1−1}⋯H_{j0} in the factorizations. Columns are
 * independent, so the work goes in chunks whose W = Yᵀ·c panel fits in L1.
 */
export function applyBlockLeft(
  c: Float64Array,
  cols: number,
  y: Float64Array,
  t: Float64Array,
  b: number,
  length: number,
  r0: number,
  c0: number,
  c1: number,
  transposeT: boolean,
  work: Float64Array,
): void {
  for (let start = c0; start < c1; start += CHUNK) {
    const width = Math.min(CHUNK, c1 - start);
    work.fill(0, 0, b * width);
    for (let i = 0; i < length; i++) {
      const row = (r0 + i) * cols + start;
      const count = Math.min(i, b - 1) + 1;
      const yRow = i * b;
      // Four reflectors per pass over the row of c: one load of c[row + k] serves four updates.
      let l = 0;
      for (; l + 3 < count; l += 4) {
        const y0 = y[yRow + l]!;
        const y1 = y[yRow + l + 1]!;
        const y2 = y[yRow + l + 2]!;
        const y3 = y[yRow + l + 3]!;
        const w0 = l * width;
        const w1 = w0 + width;
        const w2 = w1 + width;
        const w3 = w2 + width;
        for (let k = 0; k < width; k++) {
          const x = c[row + k]!;
          work[w0 + k] = work[w0 + k]! + y0 * x;
          work[w1 + k] = work[w1 + k]! + y1 * x;
          work[w2 + k] = work[w2 + k]! + y2 * x;
          work[w3 + k] = work[w3 + k]! + y3 * x;
        }
      }
      for (; l < count; l++) {
        const yil = y[yRow + l]!;
        if (yil === 0) continue;
        const w = l * width;
        for (let k = 0; k < width; k++) work[w + k] = work[w + k]! + yil * c[row + k]!;
      }
    }
    if (transposeT) {
      // W[l] ← Σ_{p ≤ l} T[p, l]·W[p], bottom row first so that the rows still needed are unchanged.
      for (let l = b - 1; l >= 0; l--) {
        const w = l * width;
        const diagonal = t[l * b + l]!;
        for (let k = 0; k < width; k++) work[w + k] = work[w + k]! * diagonal;
        for (let p = 0; p < l; p++) {
          const tpl = t[p * b + l]!;
          if (tpl === 0) continue;
          const wp = p * width;
          for (let k = 0; k < width; k++) work[w + k] = work[w + k]! + tpl * work[wp + k]!;
        }
      }
    } else {
      // W[l] ← Σ_{p ≥ l} T[l, p]·W[p], top row first.
      for (let l = 0; l < b; l++) {
        const w = l * width;
        const diagonal = t[l * b + l]!;
        for (let k = 0; k < width; k++) work[w + k] = work[w + k]! * diagonal;
        for (let p = l + 1; p < b; p++) {
          const tlp = t[l * b + p]!;
          if (tlp === 0) continue;
          const wp = p * width;
          for (let k = 0; k < width; k++) work[w + k] = work[w + k]! + tlp * work[wp + k]!;
        }
      }
    }
    for (let i = 0; i < length; i++) {
      const row = (r0 + i) * cols + start;
      const count = Math.min(i, b - 1) + 1;
      const yRow = i * b;
      let l = 0;
      for (; l + 3 < count; l += 4) {
        const y0 = y[yRow + l]!;
        const y1 = y[yRow + l + 1]!;
        const y2 = y[yRow + l + 2]!;
        const y3 = y[yRow + l + 3]!;
        const w0 = l * width;
        const w1 = w0 + width;
        const w2 = w1 + width;
        const w3 = w2 + width;
        for (let k = 0; k < width; k++) {
          c[row + k] =
            c[row + k]! -
            (y0 * work[w0 + k]! + y1 * work[w1 + k]! + (y2 * work[w2 + k]! + y3 * work[w3 + k]!));
        }
      }
      for (; l < count; l++) {
        const yil = y[yRow + l]!;
        if (yil === 0) continue;
        const w = l * width;
        for (let k = 0; k < width; k++) c[row + k] = c[row + k]! - yil * work[w + k]!;
      }
    }
  }
}

/**
 * The size×p matrix H₀⋯H_{count−1}·[I_p; 0] (LAPACK dorgqr), accumulated backwards block by block so
 * that the block starting at reflector j0 only touches rows and columns from j0 + shift on: the
 * columns before that are still unit vectors with zeros where the block acts.
 */
export function accumulateReflectors(
  store: ReflectorStore,
  count: number,
  size: number,
  p: number,
): Float64Array {
  const out = new Float64Array(size * p);
  for (let i = 0; i < Math.min(size, p); i++) out[i * p + i] = 1;
  const shift = store.firstOffset;
  const y = new Float64Array(size * BLOCK);
  const t = new Float64Array(BLOCK * BLOCK);
  const z = new Float64Array(BLOCK);
  const work = new Float64Array(BLOCK * CHUNK);
  const lastBlockStart = Math.floor(Math.max(count - 1, 0) / BLOCK) * BLOCK;
  for (let j0 = lastBlockStart; j0 >= 0 && count > 0; j0 -= BLOCK) {
    const j1 = Math.min(j0 + BLOCK, count);
    const first = j0 + shift;
    const length = size - first;
    gatherBlock(store, j0, j1, length, y, t, z);
    applyBlockLeft(out, p, y, t, j1 - j0, length, first, first, p, false, work);
  }
  return out;
}

/** Scratch big enough for `applyBlockLeft` with any block. */
export function blockWork(): Float64Array {
  return new Float64Array(BLOCK * CHUNK);
}
