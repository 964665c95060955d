import { noGrad } from '../autograd/grad-mode.js';
import { DtypeError, fmtShape, LinalgError } from '../errors.js';
import type { Generator } from '../random/generator.js';
import { randn } from '../random/sampling.js';
import type { Tensor } from '../tensor.js';
import { wrap } from './core.js';

function assertMatrix(op: string, x: Tensor): void {
  if (x.rank !== 2) throw new LinalgError(`[${op}] needs a 2-D tensor, received shape ${fmtShape(x.shape)}`);
  if (x.dtype !== 'float32' && x.dtype !== 'float64') {
    throw new DtypeError(`[${op}] needs float32 or float64, received ${x.dtype}; cast() first`);
  }
}

/**
 * Singular value decomposition x = u · diag(s) · vh, computed in float64 (not differentiable).
 * Thin by default: u [m, k], s [k], vh [k, n] with k = min(m, n); `full` gives u [m, m], vh [n, n].
 * Singular values are descending. Sign convention: each pair (uᵢ, vᵢ) is flipped so that the entry of
 * largest magnitude in uᵢ is positive (ties: the first such entry).
 */
export function svd(x: Tensor, options: { full?: boolean } = {}): { u: Tensor; s: Tensor; vh: Tensor } {
  assertMatrix('svd', x);
  const [m, n] = x.shape as [number, number];
  const k = Math.min(m, n);
  const full = options.full ?? false;
  const out = x.backend.svd(x.view(), full);
  return {
    u: wrap(x.backend, out.u, x.dtype, [m, full ? m : k]),
    s: wrap(x.backend, out.s, x.dtype, [k]),
    vh: wrap(x.backend, out.vh, x.dtype, [full ? n : k, n]),
  };
}

/** Reduced QR (Householder): q [m, k] with orthonormal columns, r [k, n] upper triangular, k = min(m, n). */
export function qr(x: Tensor): { q: Tensor; r: Tensor } {
  assertMatrix('qr', x);
  const [m, n] = x.shape as [number, number];
  const k = Math.min(m, n);
  const out = x.backend.qr(x.view());
  return { q: wrap(x.backend, out.q, x.dtype, [m, k]), r: wrap(x.backend, out.r, x.dtype, [k, n]) };
}

/** Eigendecomposition of a symmetric matrix: eigenvalues ascending, eigenvectors as columns. */
export function eigh(x: Tensor): { values: Tensor; vectors: Tensor } {
  assertMatrix('eigh', x);
  const [m, n] = x.shape as [number, number];
  if (m !== n) throw new LinalgError(`[eigh] needs a square matrix, received ${fmtShape(x.shape)}`);
  const out = x.backend.eigh(x.view());
  return {
    values: wrap(x.backend, out.values, x.dtype, [n]),
    vectors: wrap(x.backend, out.vectors, x.dtype, [n, n]),
  };
}

/**
 * Randomized low-rank SVD — the algorithm of `torch.svd_lowrank(A, q, niter)` (Halko, Martinsson and
 * Tropp 2011, Alg. 4.4 with QR re-orthonormalization): a Gaussian sketch R [n, q], Q = qr(A·R).Q, then
 * `niter` power iterations Q = qr(Aᴴ·Q).Q, Q = qr(A·Q).Q; finally the SVD of B = Qᴴ·A and U = Q·U_B.
 * A wide matrix (m < n) is handled through its transpose. Returns u [m, q], s [q], v [n, q] (v, not vh,
 * as torch returns).
 */
export function svdLowrank(
  a: Tensor,
  q = 6,
  niter = 2,
  options: { generator?: Generator } = {},
): { u: Tensor; s: Tensor; v: Tensor } {
  assertMatrix('svdLowrank', a);
  const [m, n] = a.shape as [number, number];
  if (!Number.isInteger(q) || q < 1 || q > Math.min(m, n)) {
    throw new LinalgError(
      `[svdLowrank] q must be an integer in [1, ${Math.min(m, n)}] for shape ${fmtShape(a.shape)}, received ${q}`,
    );
  }
  if (!Number.isInteger(niter) || niter < 0)
    throw new LinalgError(`[svdLowrank] niter must be a non-negative integer, received ${niter}`);
  if (m < n) {
    // Work on the tall transpose and swap the factors back, as torch does.
    const t = svdLowrank(a.T.contiguous(), q, niter, options);
    return { u: t.v, s: t.s, v: t.u };
  }
  return noGrad(() => {
    const sketch = randn([n, q], { generator: options.generator, dtype: a.dtype, backend: a.backend.name });
    let basis = qr(a.matmul(sketch)).q;
    for (let i = 0; i < niter; i++) {
      basis = qr(a.T.matmul(basis)).q;
      basis = qr(a.matmul(basis)).q;
    }
    const b = basis.T.matmul(a);
    const { u, s, vh } = svd(b);
    return { u: basis.matmul(u), s, v: vh.T.contiguous() };
  });
}
