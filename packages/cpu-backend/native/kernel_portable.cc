// Portable kernels: plain C++ for the baseline target of any architecture. The compiler vectorizes the
// inner loops with whatever the baseline offers (SSE2 on x86-64, NEON on arm64). These are the fallback
// when AVX2/FMA is absent, and the reference the AVX2 and AVX-512 sets are tested against.
#include <algorithm>
#include <cstring>

#include "kernels.h"

namespace lorakit {

void pack_a_generic(int64_t mr_panel, int64_t mc, int64_t kc, ConstView a, float* ap) {
  if (a.rs == 1) {
    // Columns of op(A) are contiguous (A stored transposed). Walk each stored row once, sequentially, and
    // deal its floats out to the micro-panels: going micro-panel by micro-panel instead would read MR
    // floats per stored row, lda apart, and revisit every cache line two or three times.
    const int64_t full = mc - mc % mr_panel;
    for (int64_t p = 0; p < kc; ++p) {
      const float* col = a.data + p * a.cs;
      float* out = ap + p * mr_panel;
      for (int64_t ir = 0; ir < full; ir += mr_panel) {
        float* o = out + ir * kc;
        const float* x = col + ir;
        for (int64_t i = 0; i < mr_panel; ++i) o[i] = x[i];
      }
      if (full < mc) {
        float* o = out + full * kc;
        for (int64_t i = 0; i < mr_panel; ++i) o[i] = full + i < mc ? col[full + i] : 0.0f;
      }
    }
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += mr_panel) {
    const int64_t mr = std::min(mr_panel, mc - ir);
    const float* src = a.data + ir * a.rs;
    float* dst = ap + ir * kc;
    for (int64_t i = 0; i < mr; ++i) {
      const float* row = src + i * a.rs;
      for (int64_t p = 0; p < kc; ++p) dst[p * mr_panel + i] = row[p * a.cs];
    }
    for (int64_t i = mr; i < mr_panel; ++i) {
      for (int64_t p = 0; p < kc; ++p) dst[p * mr_panel + i] = 0.0f;
    }
  }
}

void pack_b_generic(int64_t nr_panel, int64_t kc, int64_t nc, ConstView b, float* bp) {
  if (b.cs == 1) {
    // Rows of op(B) are contiguous. Eight rows at a time across every panel: rows are read sequentially
    // and each panel receives 8 · NR contiguous floats (panel by panel would read one cache line per row,
    // ldb apart).
    constexpr int64_t kRows = 8;
    for (int64_t p0 = 0; p0 < kc; p0 += kRows) {
      const int64_t rows = std::min(kRows, kc - p0);
      for (int64_t jr = 0; jr < nc; jr += nr_panel) {
        const int64_t nr = std::min(nr_panel, nc - jr);
        const float* src = b.data + p0 * b.rs + jr;
        float* dst = bp + jr * kc + p0 * nr_panel;
        for (int64_t p = 0; p < rows; ++p) {
          const float* row = src + p * b.rs;
          float* out = dst + p * nr_panel;
          if (nr == nr_panel) {
            std::memcpy(out, row, sizeof(float) * nr_panel);
          } else {
            for (int64_t j = 0; j < nr; ++j) out[j] = row[j];
            for (int64_t j = nr; j < nr_panel; ++j) out[j] = 0.0f;
          }
        }
      }
    }
    return;
  }
  for (int64_t jr = 0; jr < nc; jr += nr_panel) {
    const int64_t nr = std::min(nr_panel, nc - jr);
    const float* src = b.data + jr * b.cs;
    float* dst = bp + jr * kc;
    for (int64_t j = 0; j < nr; ++j) {
      const float* col = src + j * b.cs;
      for (int64_t p = 0; p < kc; ++p) dst[p * nr_panel + j] = col[p * b.rs];
    }
    for (int64_t j = nr; j < nr_panel; ++j) {
      for (int64_t p = 0; p < kc; ++p) dst[p * nr_panel + j] = 0.0f;
    }
  }
}

namespace {

// The portable register tile: 6 × 16, computed as two 6 × 8 halves (below).
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 16;

void pack_a_portable(int64_t mc, int64_t kc, ConstView a, float* ap) { pack_a_generic(kMR, mc, kc, a, ap); }
void pack_b_portable(int64_t kc, int64_t nc, ConstView b, float* bp) { pack_b_generic(kNR, kc, nc, b, bp); }

#if defined(__GNUC__) || defined(__clang__)

// GCC/Clang generic vectors: four floats map to SSE on x86-64 and NEON on arm64, with no ISA-specific
// code. The 6 × 16 tile is computed as two 6 × 8 halves so each half's twelve accumulators, two B vectors
// and one broadcast fit the sixteen registers of baseline x86-64 (a full-width tile would spill).
typedef float Vec4 __attribute__((vector_size(16)));

inline Vec4 load4(const float* p) {
  Vec4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, Vec4 v) { std::memcpy(p, &v, sizeof v); }

inline Vec4 splat(float x) { return Vec4{x, x, x, x}; }

void micro_half(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  Vec4 c00 = {}, c01 = {}, c10 = {}, c11 = {}, c20 = {}, c21 = {};
  Vec4 c30 = {}, c31 = {}, c40 = {}, c41 = {}, c50 = {}, c51 = {};
  for (int64_t p = 0; p < kc; ++p) {
    const Vec4 b0 = load4(bp + p * kNR);
    const Vec4 b1 = load4(bp + p * kNR + 4);
    const float* a = ap + p * kMR;
    Vec4 x = splat(a[0]);
    c00 += x * b0;
    c01 += x * b1;
    x = splat(a[1]);
    c10 += x * b0;
    c11 += x * b1;
    x = splat(a[2]);
    c20 += x * b0;
    c21 += x * b1;
    x = splat(a[3]);
    c30 += x * b0;
    c31 += x * b1;
    x = splat(a[4]);
    c40 += x * b0;
    c41 += x * b1;
    x = splat(a[5]);
    c50 += x * b0;
    c51 += x * b1;
  }
  const Vec4 va = splat(alpha);
  const Vec4 vb = splat(beta);
  const Vec4 rows[kMR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int64_t i = 0; i < kMR; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      store4(row, va * rows[i][0]);
      store4(row + 4, va * rows[i][1]);
    } else {
      store4(row, va * rows[i][0] + vb * load4(row));
      store4(row + 4, va * rows[i][1] + vb * load4(row + 4));
    }
  }
}

void micro_portable(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                    float beta) {
  micro_half(kc, ap, bp, c, ldc, alpha, beta);
  micro_half(kc, ap, bp + 8, c + 8, ldc, alpha, beta);
}

#else

void micro_portable(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                    float beta) {
  float acc[kMR][kNR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* a = ap + p * kMR;
    const float* b = bp + p * kNR;
    for (int64_t i = 0; i < kMR; ++i) {
      const float ai = a[i];
      for (int64_t j = 0; j < kNR; ++j) acc[i][j] += ai * b[j];
    }
  }
  for (int64_t i = 0; i < kMR; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < kNR; ++j) row[j] = alpha * acc[i][j];
    } else {
      for (int64_t j = 0; j < kNR; ++j) row[j] = alpha * acc[i][j] + beta * row[j];
    }
  }
}

#endif

void dot_nt_portable(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  // Eight partial sums per dot product keep the loop vectorizable without reassociation flags.
  constexpr int64_t kLanes = 8;
  const int64_t k8 = k - k % kLanes;
  for (int64_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    for (int64_t j = 0; j < n; ++j) {
      const float* w = b + j * ldb;
      float partial[kLanes] = {};
      for (int64_t p = 0; p < k8; p += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) partial[l] += x[p + l] * w[p + l];
      }
      float sum = 0.0f;
      for (int64_t l = 0; l < kLanes; ++l) sum += partial[l];
      for (int64_t p = k8; p < k; ++p) sum += x[p] * w[p];
      float* out = c + i * ldc + j;
      *out = beta == 0.0f ? alpha * sum : alpha * sum + beta * *out;
    }
  }
}

// Blocking as for AVX2 (same tile): a 16 KiB B micro-panel in L1, a 144 KiB A block in L2.
const KernelSet kPortable = {"portable",      kMR,           kNR,           144, 256, 4096, micro_portable,
                             pack_a_portable, pack_b_portable, dot_nt_portable};

}  // namespace

const KernelSet& portable_kernels() { return kPortable; }

}  // namespace lorakit
