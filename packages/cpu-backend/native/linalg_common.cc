#include "linalg_common.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "parallel.h"
#include "vector_kernels.h"

namespace lorakit {

// ── Memory ──────────────────────────────────────────────────────────────────────────────────────────

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kLargeBuffer = size_t{4} << 20;
}  // namespace

void* allocate_large(size_t bytes) {
  void* p = nullptr;
  if (bytes >= kLargeBuffer) {
    p = std::aligned_alloc(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p != nullptr) madvise(p, (bytes + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  } else {
    p = std::malloc(bytes == 0 ? 1 : bytes);
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void free_large(void* p) { std::free(p); }

// ── Householder reflectors ──────────────────────────────────────────────────────────────────────────

double stride_norm(const double* x, int64_t offset, int64_t stride, int64_t length) {
  double sum = 0.0;
  for (int64_t i = 0, p = offset; i < length; ++i, p += stride) sum += x[p] * x[p];
  if (sum > 1e-290 && sum < 1e290) return std::sqrt(sum);
  double scale = 0.0;
  for (int64_t i = 0, p = offset; i < length; ++i, p += stride) scale = std::max(scale, std::fabs(x[p]));
  if (scale == 0.0) return 0.0;
  sum = 0.0;
  for (int64_t i = 0, p = offset; i < length; ++i, p += stride) {
    const double v = x[p] / scale;
    sum += v * v;
  }
  return scale * std::sqrt(sum);
}

namespace {
// LAPACK's safe minimum divided by ε: below it a vector's norm has lost bits, and the vector is scaled up
// exactly (powers of two) before the reflector is formed, as dlarfg does.
const double kSafeMinimum = std::ldexp(1.0, -969);
const double kUp = std::ldexp(1.0, 600);
const double kDown = std::ldexp(1.0, -600);
}  // namespace

double householder_in_place(double* x, int64_t offset, int64_t stride, int64_t length, double* scale_out) {
  if (scale_out != nullptr) *scale_out = 0.0;
  if (length <= 1) return 0.0;
  double tail = stride_norm(x, offset + stride, stride, length - 1);
  if (tail == 0.0) return 0.0;
  double alpha = x[offset];
  double norm = std::hypot(alpha, tail);
  int rescalings = 0;
  while (norm < kSafeMinimum && rescalings < 4) {
    for (int64_t i = 0, p = offset; i < length; ++i, p += stride) x[p] *= kUp;
    ++rescalings;
    tail = stride_norm(x, offset + stride, stride, length - 1);
    alpha = x[offset];
    norm = std::hypot(alpha, tail);
  }
  // Fortran SIGN(·, α) is negative for α = −0.0 too.
  const double beta = std::signbit(alpha) ? norm : -norm;
  const double scale = 1.0 / (alpha - beta);
  for (int64_t i = 1, p = offset + stride; i < length; ++i, p += stride) x[p] *= scale;
  if (scale_out != nullptr) *scale_out = std::ldexp(scale, 600 * rescalings);
  double scaled_beta = beta;
  for (int i = 0; i < rescalings; ++i) scaled_beta *= kDown;
  x[offset] = scaled_beta;
  return (beta - alpha) / beta;
}

void load_reflector(double* v, const double* source, int64_t offset, int64_t stride, int64_t length) {
  v[0] = 1.0;
  for (int64_t i = 1, p = offset + stride; i < length; ++i, p += stride) v[i] = source[p];
}

void reflect_left(double* mat, int64_t cols, const double* v, double tau, int64_t r0, int64_t r1, int64_t c0,
                  int64_t c1, double* work) {
  if (tau == 0.0 || c0 >= c1) return;
  const VectorKernels& vk = vector_kernels();
  const int64_t width = c1 - c0;
  std::fill(work + c0, work + c1, 0.0);
  for (int64_t i = r0; i < r1; ++i) {
    const double vi = v[i - r0];
    if (vi != 0.0) vk.axpy_f64(width, vi, mat + i * cols + c0, work + c0);
  }
  for (int64_t i = r0; i < r1; ++i) {
    const double f = tau * v[i - r0];
    if (f != 0.0) vk.axpy_f64(width, -f, work + c0, mat + i * cols + c0);
  }
}

// ── Blocked reflector products ──────────────────────────────────────────────────────────────────────

namespace {
// Columns per chunk of apply_block_left, so that the kBlock × kChunk work panel stays in L1/L2.
constexpr int64_t kChunk = 128;
}  // namespace

void gather_block(const ReflectorStore& store, int64_t j0, int64_t j1, int64_t length, double* y, double* t,
                  double* z) {
  const int64_t b = j1 - j0;
  std::fill(y, y + length * b, 0.0);
  for (int64_t l = 0; l < b; ++l) {
    const int64_t base = (j0 + l) * (store.cols + 1) + store.first_offset;
    y[l * b + l] = 1.0;
    for (int64_t i = l + 1, p = base + store.stride; i < length; ++i, p += store.stride) y[i * b + l] = store.source[p];
  }
  std::fill(t, t + b * b, 0.0);
  for (int64_t l = 0; l < b; ++l) {
    const double tl = store.tau[j0 + l];
    t[l * b + l] = tl;
    if (tl == 0.0 || l == 0) continue;
    std::fill(z, z + l, 0.0);
    for (int64_t i = l; i < length; ++i) {
      const double yil = y[i * b + l];
      if (yil == 0.0) continue;
      const double* row = y + i * b;
      for (int64_t p = 0; p < l; ++p) z[p] += row[p] * yil;
    }
    for (int64_t p = 0; p < l; ++p) {
      double sum = 0.0;
      for (int64_t q = p; q < l; ++q) sum += t[p * b + q] * z[q];
      t[p * b + l] = -tl * sum;
    }
  }
}

void apply_block_left(double* c, int64_t cols, const double* y, const double* t, int64_t b, int64_t length,
                      int64_t r0, int64_t c0, int64_t c1, bool transpose_t) {
  if (c0 >= c1 || length <= 0) return;
  const VectorKernels& vk = vector_kernels();
  const int64_t chunks = (c1 - c0 + kChunk - 1) / kChunk;
  const int64_t per_thread = kBlock * kChunk + 8 * length;
  std::vector<double> scratch(static_cast<size_t>(max_parallel_threads() * per_thread));
  const int64_t per_chunk = std::max<int64_t>(1, length * std::min(kChunk, c1 - c0) * b * 4);
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 21) / per_chunk);
  parallel_for_threads(chunks, grain, [&](int tid, int64_t first, int64_t last) {
    double* work = scratch.data() + tid * per_thread;
    double* strip = work + kBlock * kChunk;
    for (int64_t chunk = first; chunk < last; ++chunk) {
      const int64_t start = c0 + chunk * kChunk;
      const int64_t width = std::min(kChunk, c1 - start);
      std::fill(work, work + b * width, 0.0);
      // W = Yᵀ·C.
      vk.block_project_f64(length, b, y, c + r0 * cols + start, cols, width, work, strip);
      // W ← T·W or Tᵀ·W, in place (row order chosen so that the rows still needed are unchanged).
      if (transpose_t) {
        for (int64_t l = b - 1; l >= 0; --l) {
          double* w = work + l * width;
          const double diagonal = t[l * b + l];
          for (int64_t k = 0; k < width; ++k) w[k] *= diagonal;
          for (int64_t p = 0; p < l; ++p) {
            const double tpl = t[p * b + l];
            if (tpl != 0.0) vk.axpy_f64(width, tpl, work + p * width, w);
          }
        }
      } else {
        for (int64_t l = 0; l < b; ++l) {
          double* w = work + l * width;
          const double diagonal = t[l * b + l];
          for (int64_t k = 0; k < width; ++k) w[k] *= diagonal;
          for (int64_t p = l + 1; p < b; ++p) {
            const double tlp = t[l * b + p];
            if (tlp != 0.0) vk.axpy_f64(width, tlp, work + p * width, w);
          }
        }
      }
      // C −= Y·W.
      vk.block_update_f64(length, b, y, work, width, c + r0 * cols + start, cols);
    }
  });
}

Buffer accumulate_reflectors(const ReflectorStore& store, int64_t count, int64_t size, int64_t p) {
  Buffer out(static_cast<size_t>(size * p), 0.0);
  for (int64_t i = 0; i < std::min(size, p); ++i) out[static_cast<size_t>(i * p + i)] = 1.0;
  if (count <= 0) return out;
  std::vector<double> y(static_cast<size_t>(size * kBlock));
  std::vector<double> t(static_cast<size_t>(kBlock * kBlock));
  std::vector<double> z(static_cast<size_t>(kBlock));
  const int64_t last_block = (std::max<int64_t>(count - 1, 0) / kBlock) * kBlock;
  for (int64_t j0 = last_block; j0 >= 0; j0 -= kBlock) {
    const int64_t j1 = std::min(j0 + kBlock, count);
    const int64_t first = j0 + store.first_offset;
    const int64_t length = size - first;
    gather_block(store, j0, j1, length, y.data(), t.data(), z.data());
    apply_block_left(out.data(), p, y.data(), t.data(), j1 - j0, length, first, first, p, false);
  }
  return out;
}

// ── Plane rotations ─────────────────────────────────────────────────────────────────────────────────

void RotationLog::sequence(int64_t first, const double* c, const double* s, int64_t count) {
  if (count <= 0) return;
  runs_.push_back(Run{first, -1, count, static_cast<int64_t>(cosines_.size())});
  cosines_.insert(cosines_.end(), c, c + count);
  sines_.insert(sines_.end(), s, s + count);
}

void RotationLog::pair(int64_t i, int64_t j, double c, double s) {
  runs_.push_back(Run{i, j, 1, static_cast<int64_t>(cosines_.size())});
  cosines_.push_back(c);
  sines_.push_back(s);
}

void RotationLog::apply(double* mat, int64_t cols) {
  if (runs_.empty()) return;
  // Columns are independent, so the rotations go panel by panel, panels spread over threads. A panel is
  // first copied out to a packed buffer (`width` doubles per row): rows of the matrix lie cols·8 bytes
  // apart — a power of two for power-of-two sizes — and strided in place they would all fall into the
  // same few cache sets; packed, a panel of a few thousand rows stays in L2 while every recorded sweep
  // passes over it.
  int64_t low = std::numeric_limits<int64_t>::max();
  int64_t high = 0;
  for (const Run& run : runs_) {
    const int64_t a = run.other < 0 ? run.first : std::min(run.first, run.other);
    const int64_t b = run.other < 0 ? run.first + run.count : std::max(run.first, run.other);
    low = std::min(low, a);
    high = std::max(high, b);
  }
  const int64_t rows = high - low + 1;
  const int64_t width = rows * 16 * int64_t{sizeof(double)} <= (int64_t{512} << 10) ? 16 : 8;
  const VectorKernels& vk = vector_kernels();
  const int64_t panels = (cols + width - 1) / width;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 18) / std::max<int64_t>(1, rotations() * width));
  std::vector<double> scratch(static_cast<size_t>(max_parallel_threads() * rows * width));
  parallel_for_threads(panels, grain, [&](int tid, int64_t first, int64_t last) {
    double* packed = scratch.data() + tid * rows * width;
    for (int64_t panel = first; panel < last; ++panel) {
      const int64_t c0 = panel * width;
      const int64_t w = std::min(width, cols - c0);
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(packed + r * width, mat + (low + r) * cols + c0, static_cast<size_t>(w) * sizeof(double));
      }
      for (const Run& run : runs_) {
        const double* cs = cosines_.data() + run.offset;
        const double* sn = sines_.data() + run.offset;
        if (run.other < 0) {
          vk.rotate_sequence_f64(w, packed + (run.first - low) * width, width, cs, sn, run.count);
        } else {
          vk.rotate_f64(w, packed + (run.first - low) * width, packed + (run.other - low) * width, cs[0], sn[0]);
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        std::memcpy(mat + (low + r) * cols + c0, packed + r * width, static_cast<size_t>(w) * sizeof(double));
      }
    }
  });
  runs_.clear();
  cosines_.clear();
  sines_.clear();
}

double pythag(double a, double b) {
  const double sum = a * a + b * b;
  if (sum > 1e-290 && sum < 1e290) return std::sqrt(sum);
  return std::hypot(a, b);
}

// ── Ordering and signs ──────────────────────────────────────────────────────────────────────────────

std::vector<int64_t> sorted_order(const double* keys, int64_t count, bool descending) {
  std::vector<int64_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t i, int64_t j) { return descending ? keys[i] > keys[j] : keys[i] < keys[j]; });
  return order;
}

void permute_rows(double* mat, int64_t cols, const std::vector<int64_t>& order) {
  const int64_t rows = static_cast<int64_t>(order.size());
  std::vector<double> copy(mat, mat + rows * cols);
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t from = order[static_cast<size_t>(i)];
    if (from != i) std::memcpy(mat + i * cols, copy.data() + from * cols, static_cast<size_t>(cols) * sizeof(double));
  }
}

int64_t largest_entry(const double* mat, int64_t cols, int64_t row) {
  const double* r = mat + row * cols;
  int64_t best = 0;
  double magnitude = -1.0;
  for (int64_t t = 0; t < cols; ++t) {
    const double m = std::fabs(r[t]);
    if (m > magnitude) {
      magnitude = m;
      best = t;
    }
  }
  return row * cols + best;
}

void negate_row(double* mat, int64_t cols, int64_t row) {
  for (double *p = mat + row * cols, *end = p + cols; p < end; ++p) *p = -*p;
}

void transpose(const double* mat, int64_t rows, int64_t cols, double* out) {
  constexpr int64_t kTile = 32;
  parallel_for((rows + kTile - 1) / kTile, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, cols * kTile)),
               [&](int64_t first, int64_t last) {
                 for (int64_t i0 = first * kTile; i0 < std::min(rows, last * kTile); i0 += kTile) {
                   const int64_t i1 = std::min(i0 + kTile, rows);
                   for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
                     const int64_t j1 = std::min(j0 + kTile, cols);
                     for (int64_t i = i0; i < i1; ++i) {
                       for (int64_t j = j0; j < j1; ++j) out[j * rows + i] = mat[i * cols + j];
                     }
                   }
                 }
               });
}

double safe_scale(const double* a, int64_t size) {
  double largest = 0.0;
  for (int64_t i = 0; i < size; ++i) largest = std::max(largest, std::fabs(a[i]));
  if (largest == 0.0 || (largest > std::ldexp(1.0, -400) && largest < std::ldexp(1.0, 400))) return 1.0;
  const double exponent = std::max(-1000.0, std::min(1000.0, -std::ceil(std::log2(largest))));
  return std::ldexp(1.0, static_cast<int>(exponent));
}

bool is_negligible(double off, double left, double right) {
  const double magnitude = std::fabs(off);
  return magnitude <= std::numeric_limits<double>::epsilon() * (std::fabs(left) + std::fabs(right)) ||
         magnitude < std::ldexp(1.0, -500);
}

}  // namespace lorakit
