// Building blocks shared by the SVD, QR and eigendecomposition drivers (linalg_common.cc): Householder
// reflectors, blocked reflector products, recorded plane rotations and the ordering helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lorakit {

// ── Memory for the big working matrices ─────────────────────────────────────────────────────────────
// The passes of these algorithms walk rows of large matrices whose rows are kilobytes apart, so with
// 4 KiB pages every row is a TLB miss. Buffers of 4 MiB and more are therefore 2 MiB-aligned and advised
// for transparent huge pages (Linux; elsewhere, and for small buffers, plain malloc).
void* allocate_large(size_t bytes);
void free_large(void* p);

template <class T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <class U>
  LargeAllocator(const LargeAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_large(n * sizeof(T))); }
  void deallocate(T* p, size_t) { free_large(p); }
  template <class U>
  bool operator==(const LargeAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const LargeAllocator<U>&) const { return false; }
};

// A row-major matrix (or vector) of doubles in such memory.
using Buffer = std::vector<double, LargeAllocator<double>>;

// ── Householder reflectors H = I − τ·v·vᵀ, v₀ = 1, stored as LAPACK does (dlarfg) ──────────────────
// ‖x‖₂ of `length` values at `offset`, `stride` apart; rescales only when squares would over/underflow.
double stride_norm(const double* x, int64_t offset, int64_t stride, int64_t length);
// Overwrites x = (α, x₁, …) with (β, v₁, …) such that H·x = β·e₀ and returns τ (0 when x₁… is zero).
// With `scale`, also reports the factor that took xᵢ to vᵢ (vᵢ = xᵢ·scale for i ≥ 1; 0 when τ = 0).
double householder_in_place(double* x, int64_t offset, int64_t stride, int64_t length, double* scale = nullptr);
// v = (1, source[offset + stride], …): a stored reflector, contiguous.
void load_reflector(double* v, const double* source, int64_t offset, int64_t stride, int64_t length);
// mat[r0:r1, c0:c1] ← H·mat[r0:r1, c0:c1] (work: at least c1 doubles).
void reflect_left(double* mat, int64_t cols, const double* v, double tau, int64_t r0, int64_t r1, int64_t c0,
                  int64_t c1, double* work);

// ── Blocked reflector products (compact WY: H_{j0}⋯H_{j1−1} = I − Y·T·Yᵀ) ──────────────────────────
// Reflector j has element i ≥ 1 at source[j·(cols + 1) + first_offset + i·stride] and acts on indices
// j + first_offset, …, size − 1.
struct ReflectorStore {
  const double* source;
  int64_t cols;
  int64_t first_offset;
  int64_t stride;
  const double* tau;
};

constexpr int64_t kBlock = 32;  // reflectors per block

// y (length × b, b = j1 − j0) and t (b × b) of reflectors j0 … j1 − 1; z: b doubles of scratch.
void gather_block(const ReflectorStore& store, int64_t j0, int64_t j1, int64_t length, double* y, double* t,
                  double* z);
// c[r0 : r0 + length, c0 : c1] ← (I − Y·T·Yᵀ)·c, or with transpose_t (I − Y·Tᵀ·Yᵀ)·c.
void apply_block_left(double* c, int64_t cols, const double* y, const double* t, int64_t b, int64_t length,
                      int64_t r0, int64_t c0, int64_t c1, bool transpose_t);
// The size × p matrix H₀⋯H_{count−1}·[I_p; 0] (LAPACK dorgqr), row-major.
Buffer accumulate_reflectors(const ReflectorStore& store, int64_t count, int64_t size, int64_t p);

// ── Plane rotations, recorded and applied later ───────────────────────────────────────────────────────
// The QR iterations decide every rotation from the small bidiagonal/tridiagonal alone; the rotations of
// the vectors (the O(n³) part) are only recorded, then applied in order to column panels of the vector
// matrix that stay in cache, panels spread across threads. Each rotation makes rows i, j of the matrix
// (c·rowᵢ + s·rowⱼ, c·rowⱼ − s·rowᵢ).
class RotationLog {
 public:
  // Rotations r = 0 … count − 1 on rows (first + r, first + r + 1).
  void sequence(int64_t first, const double* c, const double* s, int64_t count);
  void pair(int64_t i, int64_t j, double c, double s);
  // Applies everything recorded to the rows of `mat` (`cols` values each), in order, and clears the log.
  void apply(double* mat, int64_t cols);
  int64_t rotations() const { return static_cast<int64_t>(cosines_.size()); }

 private:
  struct Run {
    int64_t first;  // sequence: first row; pair: row i
    int64_t other;  // pair: row j; sequence: -1
    int64_t count;
    int64_t offset;  // into cosines_ / sines_
  };
  std::vector<Run> runs_;
  std::vector<double> cosines_;
  std::vector<double> sines_;
};

// Rotations recorded before the log is applied and cleared (16 bytes each).
constexpr int64_t kMaxLoggedRotations = int64_t{1} << 21;

// √(a² + b²) without hypot's cost when the squares cannot over- or underflow.
double pythag(double a, double b);

// ── Ordering and signs ──────────────────────────────────────────────────────────────────────────────
// 0 … count − 1 sorted by keys (stable), descending or ascending.
std::vector<int64_t> sorted_order(const double* keys, int64_t count, bool descending);
// Row i becomes old row order[i], for i < order.size().
void permute_rows(double* mat, int64_t cols, const std::vector<int64_t>& order);
// Index (in mat) of the first entry of largest magnitude in row `row`.
int64_t largest_entry(const double* mat, int64_t cols, int64_t row);
void negate_row(double* mat, int64_t cols, int64_t row);
// out (cols × rows) = matᵀ.
void transpose(const double* mat, int64_t rows, int64_t cols, double* out);
// A power of two s with s·max|a| of order one when max|a| is far from it, else 1 (exact scaling).
double safe_scale(const double* a, int64_t size);
// |off| ≤ ε·(|left| + |right|), or below 2⁻⁵⁰⁰: the deflation test of both QR iterations.
bool is_negligible(double off, double left, double right);

}  // namespace lorakit
