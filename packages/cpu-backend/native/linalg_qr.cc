// Householder QR computed the way LAPACK's dgeqrf + dorgqr do it (and the JavaScript reference,
// packages/tensor/src/linalg/householder-qr.ts): β = −sign(α)·‖(α, x)‖, no reflector for a column already
// zero below the diagonal, so q and r agree with numpy.linalg.qr and torch.linalg.qr. Panels of 32
// reflectors; the trailing columns get each panel at once as a blocked product, split across threads.
#include <algorithm>
#include <cstring>
#include <vector>

#include "linalg.h"
#include "linalg_common.h"

namespace lorakit {

void qr_f64(const double* a, int64_t m, int64_t n, double* q, double* r) {
  const int64_t k = std::min(m, n);
  Buffer w(a, a + m * n);
  std::vector<double> tau(static_cast<size_t>(std::max<int64_t>(k, 1)));
  const ReflectorStore store{w.data(), n, 0, n, tau.data()};
  std::vector<double> v(static_cast<size_t>(std::max<int64_t>(m, 1)));
  std::vector<double> panel_work(static_cast<size_t>(std::max<int64_t>(n, 1)));
  std::vector<double> y(static_cast<size_t>(std::max<int64_t>(m, 1) * kBlock));
  std::vector<double> t(static_cast<size_t>(kBlock * kBlock));
  std::vector<double> z(static_cast<size_t>(kBlock));
  for (int64_t j0 = 0; j0 < k; j0 += kBlock) {
    const int64_t j1 = std::min(j0 + kBlock, k);
    for (int64_t j = j0; j < j1; ++j) {
      const int64_t offset = j * n + j;
      const double tj = householder_in_place(w.data(), offset, n, m - j);
      tau[j] = tj;
      if (tj == 0.0 || j + 1 >= j1) continue;
      load_reflector(v.data(), w.data(), offset, n, m - j);
      reflect_left(w.data(), n, v.data(), tj, j, m, j + 1, j1, panel_work.data());
    }
    if (j1 < n) {
      gather_block(store, j0, j1, m - j0, y.data(), t.data(), z.data());
      apply_block_left(w.data(), n, y.data(), t.data(), j1 - j0, m - j0, j0, j1, n, true);
    }
  }
  std::fill(r, r + k * n, 0.0);
  for (int64_t i = 0; i < k; ++i) {
    std::memcpy(r + i * n + i, w.data() + i * n + i, static_cast<size_t>(n - i) * sizeof(double));
  }
  const Buffer out = accumulate_reflectors(store, k, m, k);
  std::copy(out.begin(), out.end(), q);
}

}  // namespace lorakit
