import { qr, svd, type Tensor, tensor } from '@lorakit/tensor';
import { torchRandn } from './torch-randn.js';

/**
 * `torch.manual_seed(seed); torch.svd_lowrank(a, q, niter)` — Halko, Martinsson & Tropp (2011), Alg.
 * 4.4 with QR re-orthonormalization, then the SVD of the projected matrix — with PyTorch's own Gaussian
 * sketch (see {@link torchRandn}), so the result equals PyTorch's up to float rounding and the signs of
 * the singular pairs. A wide matrix is handled through its transpose, as PyTorch does. `q` may exceed
 * min(m, n) (the reduced QRs then cap the basis), as in PyTorch. Returns u [m, k], s [k], v [n, k] with
 * k = min(q, m, n).
 *
 * `@lorakit/tensor`'s `svdLowrank` draws its sketch from lorakit's Philox generator, which is why this
 * package carries its own copy of the (short) algorithm.
 */
export function svdLowrankSeeded(
  a: Tensor,
  q: number,
  niter: number,
  seed: number,
): { u: Tensor; s: Tensor; v: Tensor } {
  const [m, n] = a.shape as [number, number];
  const wide = m < n;
  const tall = wide ? a.T.contiguous() : a;
  const columns = tall.shape[1]!;
  const dtype = a.dtype === 'float64' ? 'float64' : 'float32';
  const sketch = tensor(torchRandn(columns * q, dtype, seed), {
    shape: [columns, q],
    dtype,
    backend: a.backend.name,
  });
  let basis = qr(tall.matmul(sketch)).q;
  for (let i = 0; i < niter; i++) {
    basis = qr(tall.T.matmul(basis)).q;
    basis = qr(tall.matmul(basis)).q;
  }
  const { u, s, vh } = svd(basis.T.matmul(tall));
  const left = basis.matmul(u);
  const right = vh.T;
  return wide ? { u: right, s, v: left } : { u: left, s, v: right };
}

/**
 * Work of the decomposition path relative to the sketch's, per unit of the counts in
 * {@link lowrankFromSvdIsCheaper}, by backend: measured over shapes from 100 × 256 to 2100 × 2048 (q 16
 * to 64, niter 4) at 2.2–4.8, mostly 3.3–4.1, on the `cpu` backend (native QR, SVD and float64 GEMM,
 * which makes the sketch's products cheap: the sketch wins for every EVA shape measured) and 1.0–1.4
 * on the `js` reference backend (everything in JavaScript). Backends not listed get the `js` value.
 */
const DECOMPOSITION_COST: Readonly<Record<string, number>> = { cpu: 3.5 };
const DECOMPOSITION_COST_DEFAULT = 1.4;

/**
 * Whether {@link svdLowrankSeededFromSvd} is expected to be faster than {@link svdLowrankSeeded} for an
 * m × n matrix on `backend`. With M ≥ N the sides of the tall orientation, the sketch does 2·niter + 2
 * products of M·N·q multiply-adds; the decomposition path a QR of M·N² and an SVD of N³ (their cost
 * grows with N², the sketch's with q, so the sketch wins for wide layers and small q).
 */
export function lowrankFromSvdIsCheaper(
  m: number,
  n: number,
  q: number,
  niter: number,
  backend: string,
): boolean {
  const rows = Math.max(m, n);
  const columns = Math.min(m, n);
  const sketch = (2 * niter + 2) * rows * columns * q;
  const decomposition = columns * columns * (rows + columns);
  return (DECOMPOSITION_COST[backend] ?? DECOMPOSITION_COST_DEFAULT) * decomposition < sketch;
}

/**
 * What {@link svdLowrankSeeded} computes, for a float64 matrix, from its exact thin SVD instead of the
 * random sketch's products with the data. Write the tall orientation (`a`, or `aᵀ` when wide) as
 * T = U·diag(σ)·Vᵀ [M, N]. Every product of the randomized algorithm stays in the span of U or V, so in
 * those coordinates it is a diagonal scaling:
 *
 * - T·Ω = U·(σ ⊙ VᵀΩ), so the first basis is U·qr(σ ⊙ VᵀΩ).Q;
 * - Tᵀ·(U·Q) = V·(σ ⊙ Q) and T·(V·P) = U·(σ ⊙ P): each subspace iteration is two row scalings and two
 *   QRs of N × q matrices (a reduced QR of U·Y is U times the QR of Y, up to column signs, which do not
 *   change the span);
 * - the projected matrix (U·Q)ᵀ·T = (σ ⊙ Q)ᵀ·Vᵀ, whose SVD is that of (σ ⊙ Q)ᵀ [k, N] with its right
 *   vectors rotated by Vᵀ.
 *
 * So the result is the randomized SVD's own (the same seeded sketch, the same `niter` re-orthonormalized
 * iterations, the same approximation of the trailing components), not the exact truncated SVD; it
 * agrees with {@link svdLowrankSeeded} to float64 rounding amplified by the singular-value gaps, up to the
 * signs of the singular pairs. The cost is one QR and one SVD of an N × N matrix (an SVD of `a` when it
 * is wide or square) plus two N × N × q products, instead of 2·niter + 2 products of the M × N data with
 * N × q matrices; {@link lowrankFromSvdIsCheaper} says which is faster. Returns s [k] and the right singular vectors as rows, vh [rows, n] (the first `rows`
 * of them; default all k = min(q, m, n)).
 */
export function svdLowrankSeededFromSvd(
  a: Tensor,
  q: number,
  niter: number,
  seed: number,
  rows?: number,
): { s: Tensor; vh: Tensor } {
  const [m, n] = a.shape as [number, number];
  const wide = m < n;
  const columns = wide ? m : n;
  // σ, Vᵀ [N, N] and (wide only) U [M, N] of the tall orientation.
  let sigma: Tensor;
  let vt: Tensor;
  let u: Tensor | null = null;
  if (wide) {
    // aᵀ = V_a·diag(σ)·U_aᵀ: U = V_a, V = U_a.
    const result = svd(a);
    sigma = result.s;
    vt = result.u.T;
    u = result.vh.T;
  } else {
    const result = svd(m > n ? qr(a).r : a);
    sigma = result.s;
    vt = result.vh;
  }
  const scale = sigma.unsqueeze(1);
  const sketch = tensor(torchRandn(columns * q, 'float64', seed), {
    shape: [columns, q],
    dtype: 'float64',
    backend: a.backend.name,
  });
  let basis = qr(vt.matmul(sketch).mul(scale)).q;
  for (let i = 0; i < niter; i++) {
    basis = qr(basis.mul(scale)).q;
    basis = qr(basis.mul(scale)).q;
  }
  const projected = svd(basis.mul(scale).T);
  const k = projected.s.shape[0]!;
  const kept = Math.min(rows ?? k, k);
  if (!wide) return { s: projected.s, vh: projected.vh.narrow(0, 0, kept).matmul(vt) };
  // Wide: the randomized SVD's right vectors are the left ones of the tall orientation, U·basis·u_B.
  return { s: projected.s, vh: u!.matmul(basis.matmul(projected.u.narrow(1, 0, kept))).T };
}
