// Symmetric eigendecomposition: Householder tridiagonalization, then implicit QR with Wilkinson shifts on
// the tridiagonal (Golub & Van Loan, Matrix Computations, 4th ed., Alg. 8.3.1 and 8.3.2), as the
// JavaScript reference (packages/tensor/src/linalg/symmetric-eigen.ts) computes it; see linalg.h.
#include <algorithm>
#include <cmath>
#include <vector>

#include "linalg.h"
#include "linalg_common.h"
#include "parallel.h"
#include "vector_kernels.h"

namespace lorakit {
namespace {

// Rows base+1 … of the trailing block: S[i, 1:] −= v_i·q[1:] + q_i·v[1:], then
// p_next[i−1] = τ_next·S[i, 1:]·v_next, two rows at a time, the row pairs split between threads.
void update_rows(double* w, int64_t n, int64_t base, int64_t length, double t, double* v, double* q, double t_next,
                 double* v_next, double* p_next) {
  const VectorKernels& vk = vector_kernels();
  const int64_t width = length - 1;
  double* v_tail = v + 1;
  double* q_tail = q + 1;
  if (t == 0.0) {
    std::fill(v_tail, v_tail + width, 0.0);
    std::fill(q_tail, q_tail + width, 0.0);
  }
  if (t_next == 0.0) std::fill(v_next, v_next + width, 0.0);
  const int64_t grain = std::max<int64_t>(2, 16384 / std::max<int64_t>(1, width));
  parallel_for(length / 2, grain, [&](int64_t first, int64_t last) {
    double dots[2];
    for (int64_t pair = first; pair < last; ++pair) {
      const int64_t i = 1 + 2 * pair;
      if (i + 1 >= length) {
        // The odd last row.
        double* row = w + (base + i) * n + base + 1;
        const double vi = t == 0.0 ? 0.0 : v[i];
        const double qi = t == 0.0 ? 0.0 : q[i];
        for (int64_t c = 0; c < width; ++c) row[c] -= vi * q_tail[c] + qi * v_tail[c];
        p_next[i - 1] = t_next * vk.dot_f64(width, row, v_next);
        continue;
      }
      double* r0 = w + (base + i) * n + base + 1;
      double* r1 = r0 + n;
      const double v0 = t == 0.0 ? 0.0 : v[i];
      const double q0 = t == 0.0 ? 0.0 : q[i];
      const double v1 = t == 0.0 ? 0.0 : v[i + 1];
      const double q1 = t == 0.0 ? 0.0 : q[i + 1];
      vk.update2_dot_f64(width, r0, r1, v0, q0, v1, q1, q_tail, v_tail, v_next, dots);
      p_next[i - 1] = t_next * dots[0];
      p_next[i] = t_next * dots[1];
    }
  });
}

// Householder tridiagonalization of a symmetric n × n matrix in full storage, in place (see the
// reference's tridiagonalize.ts): one pass over the trailing block per step, with S·v of the next step
// taken from each row right after its update.
std::vector<double> tridiagonalize(double* w, int64_t n, double* d, double* e) {
  const VectorKernels& vk = vector_kernels();
  std::vector<double> tau(static_cast<size_t>(std::max<int64_t>(n - 2, 0)) + 1);
  std::vector<double> v(static_cast<size_t>(n) + 1), p(static_cast<size_t>(n) + 1);
  std::vector<double> v_next(static_cast<size_t>(n) + 1), p_next(static_cast<size_t>(n) + 1);
  if (n >= 3) {
    const int64_t length = n - 1;
    const double t = householder_in_place(w, 1, 1, length);
    tau[0] = t;
    load_reflector(v.data(), w, 1, 1, length);
    for (int64_t i = 0; i < length; ++i) p[i] = t * vk.dot_f64(length, w + (1 + i) * n + 1, v.data());
  }
  for (int64_t k = 0; k < n - 2; ++k) {
    const int64_t base = k + 1;
    const int64_t length = n - base;
    const double t = tau[k];
    d[k] = w[k * n + k];
    e[k] = w[k * n + base];
    if (t != 0.0) {
      double pv = 0.0;
      for (int64_t i = 0; i < length; ++i) pv += p[i] * v[i];
      const double half = (t / 2.0) * pv;
      for (int64_t i = 0; i < length; ++i) p[i] -= half * v[i];
      double* row = w + base * n + base;
      const double p0 = p[0];
      for (int64_t j = 0; j < length; ++j) row[j] -= p[j] + p0 * v[j];
    }
    const bool has_next = k + 1 < n - 2;
    double t_next = 0.0;
    if (has_next) {
      t_next = householder_in_place(w, base * n + base + 1, 1, length - 1);
      tau[k + 1] = t_next;
      load_reflector(v_next.data(), w, base * n + base + 1, 1, length - 1);
    }
    if (t != 0.0 || t_next != 0.0) {
      update_rows(w, n, base, length, t, v.data(), p.data(), t_next, v_next.data(), p_next.data());
    }
    std::swap(v, v_next);
    std::swap(p, p_next);
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2];
    e[n - 2] = w[(n - 2) * n + n - 1];
  }
  if (n >= 1) d[n - 1] = w[(n - 1) * n + n - 1];
  tau.resize(static_cast<size_t>(std::max<int64_t>(n - 2, 0)));
  return tau;
}

void qr_sweep(double* d, double* e, int64_t lo, int64_t hi, double* cosines, double* sines) {
  const double b = e[hi - 1];
  const double delta = (d[hi - 1] - d[hi]) / 2.0;
  const double root = pythag(delta, b);
  const double denominator = delta >= 0.0 ? delta + root : delta - root;
  const double mu = d[hi] - b * (b / denominator);
  double x = d[lo] - mu;
  double z = e[lo];
  for (int64_t k = lo; k < hi; ++k) {
    const double r = pythag(x, z);
    const double c = r == 0.0 ? 1.0 : x / r;
    const double s = r == 0.0 ? 0.0 : z / r;
    if (k > lo) e[k - 1] = r;
    const double a = d[k];
    const double off = e[k];
    const double next = d[k + 1];
    const double cs = c * s;
    const double two_cs_off = 2.0 * cs * off;
    d[k] = c * c * a + two_cs_off + s * s * next;
    d[k + 1] = s * s * a - two_cs_off + c * c * next;
    e[k] = cs * (next - a) + (c * c - s * s) * off;
    cosines[k - lo] = c;
    sines[k - lo] = s;
    if (k + 1 < hi) {
      x = e[k];
      z = s * e[k + 1];
      e[k + 1] = c * e[k + 1];
    }
  }
}

bool diagonalize_tridiagonal(double* d, double* e, int64_t n, double* zt, int max_sweeps) {
  std::vector<double> cosines(static_cast<size_t>(n)), sines(static_cast<size_t>(n));
  RotationLog log;
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
    if (++sweeps > max_sweeps) {
      converged = false;
      break;
    }
    qr_sweep(d, e, lo, hi, cosines.data(), sines.data());
    log.sequence(lo, cosines.data(), sines.data(), hi - lo);
    if (log.rotations() >= kMaxLoggedRotations) log.apply(zt, n);
  }
  log.apply(zt, n);
  return converged;
}

}  // namespace

int eigh_f64(const double* a, int64_t n, int max_sweeps, double* values, double* vectors) {
  if (n == 0) return kLinalgConverged;
  // Full symmetric working copy from the lower triangle.
  Buffer w(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j <= i; ++j) {
      const double value = a[i * n + j];
      w[i * n + j] = value;
      w[j * n + i] = value;
    }
  }
  const double scale = safe_scale(w.data(), n * n);
  if (scale != 1.0) {
    for (double& x : w) x *= scale;
  }
  std::vector<double> d(static_cast<size_t>(n)), e(static_cast<size_t>(n));
  const std::vector<double> tau = tridiagonalize(w.data(), n, d.data(), e.data());
  const Buffer q =
      accumulate_reflectors(ReflectorStore{w.data(), n, 1, 1, tau.data()}, std::max<int64_t>(n - 2, 0), n, n);
  Buffer zt(static_cast<size_t>(n * n));
  transpose(q.data(), n, n, zt.data());
  if (!diagonalize_tridiagonal(d.data(), e.data(), n, zt.data(), max_sweeps)) return kLinalgNoConvergence;
  for (int64_t i = 0; i < n; ++i) d[i] /= scale;
  const std::vector<int64_t> order = sorted_order(d.data(), n, false);
  permute_rows(zt.data(), n, order);
  for (int64_t i = 0; i < n; ++i) {
    values[i] = d[order[i]];
    if (zt[largest_entry(zt.data(), n, i)] < 0.0) negate_row(zt.data(), n, i);
  }
  transpose(zt.data(), n, n, vectors);
  return kLinalgConverged;
}

}  // namespace lorakit
