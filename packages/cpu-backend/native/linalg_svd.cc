// SVD by Golub–Kahan–Reinsch: Householder bidiagonalization, then implicit-shift QR on the bidiagonal
// (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 5.4.2 and §8.6), as the JavaScript reference
// (packages/tensor/src/linalg/svd.ts) computes it; see linalg.h for what differs.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "linalg.h"
#include "linalg_common.h"
#include "parallel.h"
#include "vector_kernels.h"

namespace lorakit {
namespace {

// Rows of the trailing matrix per thread, at least, in the pass of the bidiagonalization.
constexpr int64_t kRowGrain = 64;

// Householder bidiagonalization of a tall row-major m × n matrix (m ≥ n), in place: w = U_B·B·V_Bᵀ with B
// upper bidiagonal (d, e); reflectors are left where the reference leaves them (left reflector j down
// column j, right reflector j along row j), so the same accumulation and QR iteration follow.
//
// Step j needs, for its left reflector u (from column j) and the trailing rows W = w[j:, j+1:],
// work = τ_L·uᵀ·W, and then updates every row below twice (the left update, then the right reflector's,
// which depends only on row j). The reference makes two passes over the trailing matrix per step (one for
// work, one for the updates). Here one pass does both: while each row of step j is updated, its new
// column-(j+1) entry xᵢ is collected and G += xᵢ·rowᵢ[j+2:] is accumulated; since u = (1, xᵢ·scale …)
// once step j+1 forms its reflector from those xᵢ, step j+1's work is τ·(row_{j+1} + scale·G) without
// reading the matrix again. The pass writes column j's reflector as it goes, so no strided column pass
// is needed either. Rows are split between threads (each with its own partial G).
void bidiagonalize(double* w, int64_t m, int64_t n, double* d, double* e, double* tau_left, double* tau_right) {
  const VectorKernels& vk = vector_kernels();
  std::vector<double> column(static_cast<size_t>(m));  // column j from the diagonal down; then u's tail
  std::vector<double> next(static_cast<size_t>(m));    // column j + 1, collected by the pass
  std::vector<double> right(static_cast<size_t>(n));
  std::vector<double> work(static_cast<size_t>(n));
  std::vector<double> g(static_cast<size_t>(n));
  const int threads = max_parallel_threads();
  std::vector<double> partial(static_cast<size_t>(threads * n));

  // Before step 0: column 0 and G = Σ_{i>0} xᵢ·w[i, 1:].
  for (int64_t i = 0; i < m; ++i) column[i] = w[i * n];
  std::fill(g.begin(), g.end(), 0.0);
  for (int64_t i = 1; i < m && n > 1; ++i) vk.axpy_f64(n - 1, column[i], w + i * n + 1, g.data());

  for (int64_t j = 0; j < n; ++j) {
    const int64_t diagonal = j * n + j;
    double scale = 0.0;
    const double tl = householder_in_place(column.data(), 0, 1, m - j, &scale);
    tau_left[j] = tl;
    d[j] = column[0];
    w[diagonal] = column[0];
    if (j + 1 >= n) {
      for (int64_t i = j + 1; i < m; ++i) w[i * n + j] = column[i - j];
      break;
    }
    const int64_t c0 = j + 1;
    const int64_t width = n - c0;
    double* row_j = w + diagonal + 1;

    if (tl != 0.0) {
      // work = τ_L·(w[j, j+1:] + scale·G), then row j gets its left update.
      for (int64_t c = 0; c < width; ++c) work[c] = tl * (row_j[c] + scale * g[c]);
      for (int64_t c = 0; c < width; ++c) row_j[c] -= work[c];
    } else {
      std::fill(work.begin(), work.begin() + width, 0.0);
    }

    const double tr = householder_in_place(w, diagonal + 1, 1, width);
    tau_right[j] = tr;
    e[j] = row_j[0];
    if (tr != 0.0) {
      load_reflector(right.data(), w, diagonal + 1, 1, width);
    } else {
      std::fill(right.begin(), right.begin() + width, 0.0);
    }

    // The pass over rows j+1 … m−1: store column j's reflector, left update, right update (two rows at a
    // time), then collect column j+1 and G for the next step (row j+1 is the next diagonal row and not in G).
    const int64_t rows = m - (j + 1);
    const int64_t grain = std::max<int64_t>(2, kRowGrain * 256 / std::max<int64_t>(1, width));
    std::fill(partial.begin(), partial.end(), 0.0);
    parallel_for_threads((rows + 1) / 2, grain / 2 + 1, [&](int tid, int64_t first, int64_t last) {
      double* gp = partial.data() + tid * n;
      double dots[2];
      for (int64_t pair = first; pair < last; ++pair) {
        const int64_t i = j + 1 + 2 * pair;
        const bool two = i + 1 < m;
        double* r0 = w + i * n + c0;
        double* r1 = r0 + n;
        const double v0 = tl == 0.0 ? 0.0 : column[i - j];
        const double v1 = two && tl != 0.0 ? column[i - j + 1] : 0.0;
        r0[-1] = column[i - j];
        // Left update and the dot product with the right reflector, then (one more pass over the rows,
        // still in cache) the right update fused with collecting column j+1 and G. Row j+1 is the next
        // diagonal row, so it adds nothing to G.
        const double g0 = i > j + 1 ? 1.0 : 0.0;
        if (two) {
          r1[-1] = column[i - j + 1];
          vk.update2_dot_f64(width, r0, r1, v0, 0.0, v1, 0.0, work.data(), nullptr, right.data(), dots);
          vk.update2_accumulate_f64(width, r0, r1, tr * dots[0], tr * dots[1], right.data(), g0, 1.0, gp);
          next[i + 1 - (j + 1)] = r1[0];
        } else {
          vk.axpy_f64(width, -v0, work.data(), r0);
          const double f = tr * vk.dot_f64(width, r0, right.data());
          vk.update2_accumulate_f64(width, r0, nullptr, f, 0.0, right.data(), g0, 0.0, gp);
        }
        next[i - (j + 1)] = r0[0];
      }
    });
    std::fill(g.begin(), g.begin() + width, 0.0);
    for (int t = 0; t < threads; ++t) vk.axpy_f64(width - 1, 1.0, partial.data() + t * n, g.data());
    std::swap(column, next);
  }
}

// Applies a log when it has grown large, so memory stays bounded on big problems.
void maybe_flush(RotationLog& log, double* mat, int64_t cols) {
  if (log.rotations() >= kMaxLoggedRotations) log.apply(mat, cols);
}

// dᵢ = 0 with i < hi: zero eᵢ by rotating row i against rows i+1 … hi from the left.
void chase_row(double* d, double* e, RotationLog& ut_log, int64_t i, int64_t hi) {
  double f = e[i];
  e[i] = 0.0;
  for (int64_t j = i + 1; j <= hi && f != 0.0; ++j) {
    const double r = pythag(d[j], f);
    const double c = d[j] / r;
    const double s = f / r;
    d[j] = r;
    ut_log.pair(j, i, c, s);
    if (j < hi) {
      f = -s * e[j];
      e[j] = c * e[j];
    }
  }
}

// d_hi = 0: zero e_{hi−1} by rotating column hi against columns hi−1 … lo from the right.
void chase_column(double* d, double* e, RotationLog& vt_log, int64_t lo, int64_t hi) {
  double f = e[hi - 1];
  e[hi - 1] = 0.0;
  for (int64_t j = hi - 1; j >= lo && f != 0.0; --j) {
    const double r = pythag(d[j], f);
    const double c = d[j] / r;
    const double s = f / r;
    d[j] = r;
    vt_log.pair(j, hi, c, s);
    if (j > lo) {
      f = -s * e[j - 1];
      e[j - 1] = c * e[j - 1];
    }
  }
}

// One Golub–Kahan step on lo … hi with the Wilkinson shift of BᵀB's trailing 2 × 2.
void qr_sweep(double* d, double* e, int64_t lo, int64_t hi, double* right_cos, double* right_sin, double* left_cos,
              double* left_sin) {
  const double dm = d[hi - 1];
  const double em = e[hi - 1];
  const double dn = d[hi];
  const double ep = hi - 1 > lo ? e[hi - 2] : 0.0;
  const double t11 = dm * dm + ep * ep;
  const double t12 = dm * em;
  const double t22 = dn * dn + em * em;
  const double delta = (t11 - t22) / 2.0;
  const double root = pythag(delta, t12);
  const double denominator = delta >= 0.0 ? delta + root : delta - root;
  const double mu = denominator == 0.0 ? t22 : t22 - t12 * (t12 / denominator);

  double y = d[lo] * d[lo] - mu;
  double z = d[lo] * e[lo];
  for (int64_t k = lo; k < hi; ++k) {
    double r = pythag(y, z);
    double c = r == 0.0 ? 1.0 : y / r;
    double s = r == 0.0 ? 0.0 : z / r;
    if (k > lo) e[k - 1] = r;
    const double dk = d[k];
    const double ek = e[k];
    const double dk1 = d[k + 1];
    const double diagonal = c * dk + s * ek;
    e[k] = c * ek - s * dk;
    const double bulge = s * dk1;
    d[k + 1] = c * dk1;
    right_cos[k - lo] = c;
    right_sin[k - lo] = s;

    r = pythag(diagonal, bulge);
    c = r == 0.0 ? 1.0 : diagonal / r;
    s = r == 0.0 ? 0.0 : bulge / r;
    d[k] = r;
    const double ek_new = e[k];
    const double dk1_new = d[k + 1];
    e[k] = c * ek_new + s * dk1_new;
    d[k + 1] = c * dk1_new - s * ek_new;
    left_cos[k - lo] = c;
    left_sin[k - lo] = s;
    if (k + 1 < hi) {
      y = e[k];
      z = s * e[k + 1];
      e[k + 1] = c * e[k + 1];
    }
  }
}

// Diagonalizes B = diag(d) + superdiag(e) in place, rotating the rows of ut (Uᵀ, rows of ut_cols) and vt
// (Vᵀ, rows of vt_cols). Returns false when a singular value did not split off within max_sweeps.
bool diagonalize_bidiagonal(double* d, double* e, int64_t n, double* ut, int64_t ut_cols, double* vt,
                            int64_t vt_cols, int max_sweeps) {
  double norm = 0.0;
  for (int64_t i = 0; i < n; ++i) norm = std::max(norm, std::fabs(d[i]) + (i < n - 1 ? std::fabs(e[i]) : 0.0));
  const double zero_tolerance = std::numeric_limits<double>::epsilon() * norm;
  std::vector<double> rc(static_cast<size_t>(n)), rs(static_cast<size_t>(n)), lc(static_cast<size_t>(n)),
      ls(static_cast<size_t>(n));
  RotationLog ut_log;
  RotationLog vt_log;
  int64_t hi = n - 1;
  int sweeps = 0;
  bool converged = true;
  while (hi > 0) {
    if (is_negligible(e[hi - 1], d[hi - 1], d[hi])) {
      e[hi - 1] = 0.0;
      --hi;
      sweeps = 0;
      continue;
    }
    int64_t lo = hi - 1;
    while (lo > 0) {
      if (is_negligible(e[lo - 1], d[lo - 1], d[lo])) {
        e[lo - 1] = 0.0;
        break;
      }
      --lo;
    }
    int64_t zero_at = -1;
    for (int64_t i = lo; i <= hi; ++i) {
      if (std::fabs(d[i]) <= zero_tolerance) {
        d[i] = 0.0;
        zero_at = i;
        break;
      }
    }
    if (zero_at >= 0 && zero_at < hi) {
      chase_row(d, e, ut_log, zero_at, hi);
      maybe_flush(ut_log, ut, ut_cols);
      continue;
    }
    if (zero_at == hi) {
      chase_column(d, e, vt_log, lo, hi);
      maybe_flush(vt_log, vt, vt_cols);
      continue;
    }
    if (++sweeps > max_sweeps) {
      converged = false;
      break;
    }
    qr_sweep(d, e, lo, hi, rc.data(), rs.data(), lc.data(), ls.data());
    vt_log.sequence(lo, rc.data(), rs.data(), hi - lo);
    ut_log.sequence(lo, lc.data(), ls.data(), hi - lo);
    maybe_flush(vt_log, vt, vt_cols);
    maybe_flush(ut_log, ut, ut_cols);
  }
  vt_log.apply(vt, vt_cols);
  ut_log.apply(ut, ut_cols);
  return converged;
}

struct TallResult {
  Buffer left;             // p × m: the left singular vectors as rows (p = n, or m when full)
  std::vector<double> s;   // n, descending
  Buffer right;            // n × n: the right singular vectors as rows
};

// SVD of a tall m × n matrix (m ≥ n ≥ 1), overwriting w.
bool tall_svd(Buffer& w, int64_t m, int64_t n, bool full, int max_sweeps, TallResult& out) {
  const double scale = safe_scale(w.data(), m * n);
  if (scale != 1.0) {
    for (double& v : w) v *= scale;
  }
  std::vector<double> d(static_cast<size_t>(n)), e(static_cast<size_t>(std::max<int64_t>(n - 1, 0)) + 1);
  std::vector<double> tau_left(static_cast<size_t>(n)), tau_right(static_cast<size_t>(n));
  bidiagonalize(w.data(), m, n, d.data(), e.data(), tau_left.data(), tau_right.data());

  const int64_t p = full ? m : n;
  Buffer u = accumulate_reflectors(ReflectorStore{w.data(), n, 0, n, tau_left.data()}, n, m, p);
  out.left.resize(static_cast<size_t>(p * m));
  transpose(u.data(), m, p, out.left.data());
  u = accumulate_reflectors(ReflectorStore{w.data(), n, 1, 1, tau_right.data()}, n - 1, n, n);
  out.right.resize(static_cast<size_t>(n * n));
  transpose(u.data(), n, n, out.right.data());
  u = Buffer();

  if (!diagonalize_bidiagonal(d.data(), e.data(), n, out.left.data(), m, out.right.data(), n, max_sweeps)) {
    return false;
  }
  out.s.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (d[i] < 0.0) negate_row(out.right.data(), n, i);
    out.s[i] = std::fabs(d[i]) / scale;
  }
  const std::vector<int64_t> order = sorted_order(out.s.data(), n, true);
  permute_rows(out.left.data(), m, order);
  permute_rows(out.right.data(), n, order);
  std::vector<double> sorted(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sorted[i] = out.s[order[i]];
  out.s = std::move(sorted);
  return true;
}

// Flips pairs (uᵢ, vᵢ), i < k, so that the largest-magnitude entry of uᵢ is positive.
void orient_pairs(double* u, int64_t u_cols, double* v, int64_t v_cols, int64_t k) {
  for (int64_t i = 0; i < k; ++i) {
    if (u[largest_entry(u, u_cols, i)] < 0.0) {
      negate_row(u, u_cols, i);
      negate_row(v, v_cols, i);
    }
  }
}

void identity(double* out, int64_t size) {
  std::fill(out, out + size * size, 0.0);
  for (int64_t i = 0; i < size; ++i) out[i * size + i] = 1.0;
}

}  // namespace

int svd_f64(const double* a, int64_t m, int64_t n, bool full, int max_sweeps, double* u, double* s, double* vh) {
  const int64_t k = std::min(m, n);
  if (k == 0) {
    if (full) {
      identity(u, m);
      identity(vh, n);
    }
    return kLinalgConverged;
  }
  TallResult r;
  if (m >= n) {
    Buffer w(a, a + m * n);
    if (!tall_svd(w, m, n, full, max_sweeps, r)) return kLinalgNoConvergence;
    orient_pairs(r.left.data(), m, r.right.data(), n, k);
    transpose(r.left.data(), full ? m : n, m, u);  // u = leftᵀ
    std::copy(r.right.begin(), r.right.end(), vh);
  } else {
    // a = (aᵀ)ᵀ = (U'·Σ·V'ᵀ)ᵀ = V'·Σ·U'ᵀ: the roles of the two bases swap.
    Buffer w(static_cast<size_t>(m * n));
    transpose(a, m, n, w.data());
    if (!tall_svd(w, n, m, full, max_sweeps, r)) return kLinalgNoConvergence;
    orient_pairs(r.right.data(), m, r.left.data(), n, k);
    transpose(r.right.data(), m, m, u);
    std::copy(r.left.begin(), r.left.end(), vh);
  }
  std::copy(r.s.begin(), r.s.end(), s);
  return kLinalgConverged;
}

}  // namespace lorakit
