// Portable kernels: plain C++ for the baseline target of any architecture. The compiler vectorizes the
// inner loops with whatever the baseline offers (SSE2 on x86-64, NEON on arm64). These are the fallback
// when AVX2/FMA is absent, and the reference the AVX2 set is tested against.
#include <algorithm>
#include <cstring>

#include "kernels.h"

namespace lorakit {

void pack_a_generic(int64_t mc, int64_t kc, ConstView a, float* ap) {
  for (int64_t ir = 0; ir < mc; ir += kMR) {
    const int64_t mr = std::min(kMR, mc - ir);
    const float* src = a.data + ir * a.rs;
    float* dst = ap + ir * kc;
    if (a.rs == 1) {
      // Columns of op(A) are contiguous: each p contributes mr consecutive floats.
      for (int64_t p = 0; p < kc; ++p) {
        const float* col = src + p * a.cs;
        float* out = dst + p * kMR;
        for (int64_t i = 0; i < mr; ++i) out[i] = col[i];
        for (int64_t i = mr; i < kMR; ++i) out[i] = 0.0f;
      }
    } else {
      for (int64_t i = 0; i < mr; ++i) {
        const float* row = src + i * a.rs;
        for (int64_t p = 0; p < kc; ++p) dst[p * kMR + i] = row[p * a.cs];
      }
      for (int64_t i = mr; i < kMR; ++i) {
        for (int64_t p = 0; p < kc; ++p) dst[p * kMR + i] = 0.0f;
      }
    }
  }
}

void pack_b_generic(int64_t kc, int64_t nc, ConstView b, float* bp) {
  for (int64_t jr = 0; jr < nc; jr += kNR) {
    const int64_t nr = std::min(kNR, nc - jr);
    const float* src = b.data + jr * b.cs;
    float* dst = bp + jr * kc;
    if (b.cs == 1) {
      // Rows of op(B) are contiguous: each p contributes nr consecutive floats.
      for (int64_t p = 0; p < kc; ++p) {
        const float* row = src + p * b.rs;
        float* out = dst + p * kNR;
        if (nr == kNR) {
          std::memcpy(out, row, sizeof(float) * kNR);
        } else {
          for (int64_t j = 0; j < nr; ++j) out[j] = row[j];
          for (int64_t j = nr; j < kNR; ++j) out[j] = 0.0f;
        }
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const float* col = src + j * b.cs;
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = col[p * b.rs];
      }
      for (int64_t j = nr; j < kNR; ++j) {
        for (int64_t p = 0; p < kc; ++p) dst[p * kNR + j] = 0.0f;
      }
    }
  }
}

namespace {

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

const KernelSet kPortable = {"portable", micro_portable, pack_a_generic, pack_b_generic, dot_nt_portable};

}  // namespace

const KernelSet& portable_kernels() { return kPortable; }

}  // namespace lorakit
