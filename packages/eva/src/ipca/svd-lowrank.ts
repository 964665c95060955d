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
