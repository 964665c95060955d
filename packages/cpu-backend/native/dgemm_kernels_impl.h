// The DGEMM packing routines and micro-kernel, compiled once per target (dgemm_portable.cc,
// dgemm_avx2.cc, dgemm_avx512.cc). Include after defining LORAKIT_DGEMM_NAME, LORAKIT_DGEMM_WIDTH (doubles
// per vector register), LORAKIT_DGEMM_MR and LORAKIT_DGEMM_NR (a multiple of the width). Defines kTable in
// an anonymous namespace.
//
// The micro-kernel keeps the MR × NR tile of C in MR · NR / W vector accumulators: per step of k it loads
// one row of the B panel (NR / W vectors) and multiplies it by each of the MR elements of the A panel's
// column. GCC and Clang get explicit vectors (the vector_size extension), which they keep in registers;
// other compilers get the same loops on plain arrays.
#include <cstdint>
#include <cstring>

#include "dgemm.h"

namespace lorakit {
namespace {

constexpr int kW = LORAKIT_DGEMM_WIDTH;
constexpr int kMR = LORAKIT_DGEMM_MR;
constexpr int kNR = LORAKIT_DGEMM_NR;
constexpr int kNV = kNR / kW;
static_assert(kNR % kW == 0, "NR must be a multiple of the vector width");

#if defined(__GNUC__) || defined(__clang__)
typedef double VecD __attribute__((vector_size(kW * sizeof(double))));
#define LORAKIT_DGEMM_VECTOR 1
#endif

void pack_a(int64_t mc, int64_t kc, const double* a, int64_t rs, int64_t cs, double* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += kMR) {
    const int64_t rows = mc - i0 < kMR ? mc - i0 : kMR;
    double* panel = out + i0 * kc;
    const double* src = a + i0 * rs;
    if (rs == 1) {
      // op(A)'s rows are adjacent in memory (A stored transposed): read each column of the block in one
      // piece.
      for (int64_t p = 0; p < kc; ++p) {
        const double* col = src + p * cs;
        double* dst = panel + p * kMR;
        for (int64_t i = 0; i < rows; ++i) dst[i] = col[i];
        for (int64_t i = rows; i < kMR; ++i) dst[i] = 0.0;
      }
    } else {
      for (int64_t i = 0; i < rows; ++i) {
        const double* row = src + i * rs;
        for (int64_t p = 0; p < kc; ++p) panel[p * kMR + i] = row[p * cs];
      }
      for (int64_t i = rows; i < kMR; ++i) {
        for (int64_t p = 0; p < kc; ++p) panel[p * kMR + i] = 0.0;
      }
    }
  }
}

void pack_b(int64_t kc, int64_t nc, const double* b, int64_t rs, int64_t cs, double* out) {
  for (int64_t j0 = 0; j0 < nc; j0 += kNR) {
    const int64_t cols = nc - j0 < kNR ? nc - j0 : kNR;
    double* panel = out + j0 * kc;
    const double* src = b + j0 * cs;
    if (cs == 1) {
      for (int64_t p = 0; p < kc; ++p) {
        const double* row = src + p * rs;
        double* dst = panel + p * kNR;
        for (int64_t j = 0; j < cols; ++j) dst[j] = row[j];
        for (int64_t j = cols; j < kNR; ++j) dst[j] = 0.0;
      }
    } else {
      // op(B)'s columns are adjacent in memory (B stored transposed): read each of them in one piece.
      for (int64_t j = 0; j < cols; ++j) {
        const double* col = src + j * cs;
        for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = col[p * rs];
      }
      for (int64_t j = cols; j < kNR; ++j) {
        for (int64_t p = 0; p < kc; ++p) panel[p * kNR + j] = 0.0;
      }
    }
  }
}

void micro(int64_t kc, const double* ap, const double* bp, int64_t rows, int64_t cols, double alpha, double beta,
           double* c, int64_t ldc) {
  alignas(64) double tile[kMR * kNR];
#ifdef LORAKIT_DGEMM_VECTOR
  VecD acc[kMR][kNV];
  for (int i = 0; i < kMR; ++i) {
    for (int v = 0; v < kNV; ++v) acc[i][v] = VecD{};
  }
  for (int64_t p = 0; p < kc; ++p) {
    VecD bv[kNV];
    for (int v = 0; v < kNV; ++v) std::memcpy(&bv[v], bp + p * kNR + v * kW, sizeof(VecD));
    const double* av = ap + p * kMR;
    for (int i = 0; i < kMR; ++i) {
      const double x = av[i];
      for (int v = 0; v < kNV; ++v) acc[i][v] += x * bv[v];
    }
  }
  for (int i = 0; i < kMR; ++i) {
    for (int v = 0; v < kNV; ++v) std::memcpy(tile + i * kNR + v * kW, &acc[i][v], sizeof(VecD));
  }
#else
  for (int i = 0; i < kMR * kNR; ++i) tile[i] = 0.0;
  for (int64_t p = 0; p < kc; ++p) {
    const double* bv = bp + p * kNR;
    const double* av = ap + p * kMR;
    for (int i = 0; i < kMR; ++i) {
      for (int j = 0; j < kNR; ++j) tile[i * kNR + j] += av[i] * bv[j];
    }
  }
#endif
  for (int64_t i = 0; i < rows; ++i) {
    double* row = c + i * ldc;
    const double* t = tile + i * kNR;
    if (beta == 0.0) {
      for (int64_t j = 0; j < cols; ++j) row[j] = alpha * t[j];
    } else {
      for (int64_t j = 0; j < cols; ++j) row[j] = alpha * t[j] + beta * row[j];
    }
  }
}

// MC rows of A (MC · KC doubles, L2) against KC × NC of B (L3); KC · NR doubles of a B panel stay in L1.
constexpr DgemmKernels kTable{LORAKIT_DGEMM_NAME, kMR, kNR, kMR * 16, 256, kNR * 128, pack_a, pack_b, micro};

}  // namespace
}  // namespace lorakit
