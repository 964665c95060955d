// AVX2 + FMA kernels. This translation unit alone is compiled with -mavx2 -mfma (binding.gyp), and the
// driver calls into it only after CPUID and XGETBV report AVX2, FMA and the ymm state (cpu_features.cc), so
// the addon still loads and runs on x86-64 CPUs without AVX2. On other architectures the file is empty apart
// from avx2_kernels() returning null.
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

#include <immintrin.h>

#include <algorithm>

namespace lorakit {
namespace {

// Register tile: NR = 16 is two 8-float AVX vectors; MR = 6 gives twelve accumulators, which with two B
// vectors and one broadcast A value uses 15 of the 16 ymm registers.
constexpr int64_t kMR = 6;
constexpr int64_t kNR = 16;

// Transposes eight rows of eight floats in place: afterwards r[q] holds column q of the input.
inline void transpose8x8(__m256& r0, __m256& r1, __m256& r2, __m256& r3, __m256& r4, __m256& r5, __m256& r6,
                         __m256& r7) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1);
  const __m256 t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3);
  const __m256 t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5);
  const __m256 t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7);
  const __m256 t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44);
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44);
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44);
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44);
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// Row-contiguous op(A) (A not transposed): six rows are read eight floats at a time and transposed into
// the [p][i] layout. Each 8-float store also writes two floats past its six, which the next store (or the
// scalar tail, or the next micro-panel) overwrites; the packed buffer has 16 floats of slack at its end.
void pack_a_avx2(int64_t mc, int64_t kc, ConstView a, float* ap) {
  if (a.cs != 1) {
    pack_a_generic(kMR, mc, kc, a, ap);
    return;
  }
  const int64_t k8 = kc - kc % 8;
  const int64_t full = mc - mc % kMR;
  for (int64_t ir = 0; ir < full; ir += kMR) {
    const float* row0 = a.data + ir * a.rs;
    const float* row1 = row0 + a.rs;
    const float* row2 = row1 + a.rs;
    const float* row3 = row2 + a.rs;
    const float* row4 = row3 + a.rs;
    const float* row5 = row4 + a.rs;
    float* dst = ap + ir * kc;
    for (int64_t p = 0; p < k8; p += 8) {
      __m256 r0 = _mm256_loadu_ps(row0 + p);
      __m256 r1 = _mm256_loadu_ps(row1 + p);
      __m256 r2 = _mm256_loadu_ps(row2 + p);
      __m256 r3 = _mm256_loadu_ps(row3 + p);
      __m256 r4 = _mm256_loadu_ps(row4 + p);
      __m256 r5 = _mm256_loadu_ps(row5 + p);
      __m256 r6 = _mm256_setzero_ps();
      __m256 r7 = _mm256_setzero_ps();
      transpose8x8(r0, r1, r2, r3, r4, r5, r6, r7);
      float* out = dst + p * kMR;
      _mm256_storeu_ps(out + 0 * kMR, r0);
      _mm256_storeu_ps(out + 1 * kMR, r1);
      _mm256_storeu_ps(out + 2 * kMR, r2);
      _mm256_storeu_ps(out + 3 * kMR, r3);
      _mm256_storeu_ps(out + 4 * kMR, r4);
      _mm256_storeu_ps(out + 5 * kMR, r5);
      _mm256_storeu_ps(out + 6 * kMR, r6);
      _mm256_storeu_ps(out + 7 * kMR, r7);
    }
    for (int64_t p = k8; p < kc; ++p) {
      float* out = dst + p * kMR;
      out[0] = row0[p];
      out[1] = row1[p];
      out[2] = row2[p];
      out[3] = row3[p];
      out[4] = row4[p];
      out[5] = row5[p];
    }
  }
  if (full < mc) {
    pack_a_generic(kMR, mc - full, kc, ConstView{a.data + full * a.rs, a.rs, a.cs}, ap + full * kc);
  }
}

// Column-contiguous op(B) (B transposed, as in x · Wᵀ): sixteen columns are read eight floats at a time
// and transposed by two 8 × 8 blocks into the [p][j] layout. Row-contiguous op(B) is a straight copy.
void pack_b_avx2(int64_t kc, int64_t nc, ConstView b, float* bp) {
  const int64_t full = nc - nc % kNR;
  if (b.cs == 1) {
    // Eight rows at a time across every panel: each row is read sequentially (prefetchers follow it) and
    // each panel receives 512 contiguous bytes. Panel by panel would instead read one cache line per row,
    // ldb apart, on a new page each time.
    constexpr int64_t kRows = 8;
    for (int64_t p0 = 0; p0 < kc; p0 += kRows) {
      const int64_t rows = std::min(kRows, kc - p0);
      for (int64_t jr = 0; jr < full; jr += kNR) {
        const float* src = b.data + p0 * b.rs + jr;
        float* dst = bp + jr * kc + p0 * kNR;
        for (int64_t p = 0; p < rows; ++p) {
          _mm256_store_ps(dst + p * kNR, _mm256_loadu_ps(src + p * b.rs));
          _mm256_store_ps(dst + p * kNR + 8, _mm256_loadu_ps(src + p * b.rs + 8));
        }
      }
    }
  } else if (b.rs == 1) {
    const int64_t k8 = kc - kc % 8;
    for (int64_t jr = 0; jr < full; jr += kNR) {
      float* dst = bp + jr * kc;
      for (int64_t half = 0; half < 2; ++half) {
        const float* col = b.data + (jr + 8 * half) * b.cs;
        const int64_t cs = b.cs;
        for (int64_t p = 0; p < k8; p += 8) {
          __m256 r0 = _mm256_loadu_ps(col + 0 * cs + p);
          __m256 r1 = _mm256_loadu_ps(col + 1 * cs + p);
          __m256 r2 = _mm256_loadu_ps(col + 2 * cs + p);
          __m256 r3 = _mm256_loadu_ps(col + 3 * cs + p);
          __m256 r4 = _mm256_loadu_ps(col + 4 * cs + p);
          __m256 r5 = _mm256_loadu_ps(col + 5 * cs + p);
          __m256 r6 = _mm256_loadu_ps(col + 6 * cs + p);
          __m256 r7 = _mm256_loadu_ps(col + 7 * cs + p);
          transpose8x8(r0, r1, r2, r3, r4, r5, r6, r7);
          float* out = dst + p * kNR + 8 * half;
          _mm256_store_ps(out + 0 * kNR, r0);
          _mm256_store_ps(out + 1 * kNR, r1);
          _mm256_store_ps(out + 2 * kNR, r2);
          _mm256_store_ps(out + 3 * kNR, r3);
          _mm256_store_ps(out + 4 * kNR, r4);
          _mm256_store_ps(out + 5 * kNR, r5);
          _mm256_store_ps(out + 6 * kNR, r6);
          _mm256_store_ps(out + 7 * kNR, r7);
        }
        for (int64_t p = k8; p < kc; ++p) {
          float* out = dst + p * kNR + 8 * half;
          for (int64_t j = 0; j < 8; ++j) out[j] = col[j * cs + p];
        }
      }
    }
  } else {
    pack_b_generic(kNR, kc, full, b, bp);
  }
  if (full < nc) {
    pack_b_generic(kNR, kc, nc - full, ConstView{b.data + full * b.cs, b.rs, b.cs}, bp + full * kc);
  }
}

// The 6 × 16 micro-kernel. Twelve named accumulators: GCC 12 spills an accumulator array to the stack
// (measured at 28 GFLOP/s), named variables stay in registers.
void micro_avx2(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  // C's six rows are ldc apart, so no hardware prefetcher sees them coming; ask for them now and let the
  // kc-long loop hide the latency (a miss to DRAM would otherwise stall the stores at the end).
  for (int i = 0; i < kMR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNR - 1), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();

#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 b0 = _mm256_load_ps(bp);
    const __m256 b1 = _mm256_load_ps(bp + 8);
    __m256 a = _mm256_broadcast_ss(ap + 0);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(ap + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(ap + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(ap + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(ap + 4);
    c40 = _mm256_fmadd_ps(a, b0, c40);
    c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(ap + 5);
    c50 = _mm256_fmadd_ps(a, b0, c50);
    c51 = _mm256_fmadd_ps(a, b1, c51);
    ap += kMR;
    bp += kNR;
  }

  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
    auto put = [&](float* row, __m256 lo, __m256 hi) {
      _mm256_storeu_ps(row, _mm256_mul_ps(lo, va));
      _mm256_storeu_ps(row + 8, _mm256_mul_ps(hi, va));
    };
    put(c + 0 * ldc, c00, c01);
    put(c + 1 * ldc, c10, c11);
    put(c + 2 * ldc, c20, c21);
    put(c + 3 * ldc, c30, c31);
    put(c + 4 * ldc, c40, c41);
    put(c + 5 * ldc, c50, c51);
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
    auto update = [&](float* row, __m256 lo, __m256 hi) {
      _mm256_storeu_ps(row, _mm256_fmadd_ps(lo, va, _mm256_mul_ps(vb, _mm256_loadu_ps(row))));
      _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(hi, va, _mm256_mul_ps(vb, _mm256_loadu_ps(row + 8))));
    };
    update(c + 0 * ldc, c00, c01);
    update(c + 1 * ldc, c10, c11);
    update(c + 2 * ldc, c20, c21);
    update(c + 3 * ldc, c30, c31);
    update(c + 4 * ldc, c40, c41);
    update(c + 5 * ldc, c50, c51);
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[i][j] += Σ_p x_i[p] · w_j[p] for 3 rows of x and 4 rows of w, twelve named accumulators.
void dot_tile_3x4(int64_t kc, const float* x, int64_t lda, const float* w, int64_t ldb, float* out, int64_t ldo) {
  const float* x0 = x;
  const float* x1 = x + lda;
  const float* x2 = x + 2 * lda;
  const float* w0 = w;
  const float* w1 = w + ldb;
  const float* w2 = w + 2 * ldb;
  const float* w3 = w + 3 * ldb;
  __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a02 = _mm256_setzero_ps();
  __m256 a03 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
  __m256 a12 = _mm256_setzero_ps(), a13 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps();
  __m256 a21 = _mm256_setzero_ps(), a22 = _mm256_setzero_ps(), a23 = _mm256_setzero_ps();
  const int64_t k8 = kc - kc % 8;
  for (int64_t p = 0; p < k8; p += 8) {
    const __m256 v0 = _mm256_loadu_ps(x0 + p);
    const __m256 v1 = _mm256_loadu_ps(x1 + p);
    const __m256 v2 = _mm256_loadu_ps(x2 + p);
    __m256 u = _mm256_loadu_ps(w0 + p);
    a00 = _mm256_fmadd_ps(v0, u, a00);
    a10 = _mm256_fmadd_ps(v1, u, a10);
    a20 = _mm256_fmadd_ps(v2, u, a20);
    u = _mm256_loadu_ps(w1 + p);
    a01 = _mm256_fmadd_ps(v0, u, a01);
    a11 = _mm256_fmadd_ps(v1, u, a11);
    a21 = _mm256_fmadd_ps(v2, u, a21);
    u = _mm256_loadu_ps(w2 + p);
    a02 = _mm256_fmadd_ps(v0, u, a02);
    a12 = _mm256_fmadd_ps(v1, u, a12);
    a22 = _mm256_fmadd_ps(v2, u, a22);
    u = _mm256_loadu_ps(w3 + p);
    a03 = _mm256_fmadd_ps(v0, u, a03);
    a13 = _mm256_fmadd_ps(v1, u, a13);
    a23 = _mm256_fmadd_ps(v2, u, a23);
  }
  float s[3][4] = {{hsum(a00), hsum(a01), hsum(a02), hsum(a03)},
                   {hsum(a10), hsum(a11), hsum(a12), hsum(a13)},
                   {hsum(a20), hsum(a21), hsum(a22), hsum(a23)}};
  for (int64_t p = k8; p < kc; ++p) {
    const float xs[3] = {x0[p], x1[p], x2[p]};
    const float ws[4] = {w0[p], w1[p], w2[p], w3[p]};
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) s[i][j] += xs[i] * ws[j];
    }
  }
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) out[i * ldo + j] += s[i][j];
  }
}

// out[0][j] += Σ_p x[p] · w_j[p] for one row of x and 4 rows of w (matrix-vector products).
void dot_tile_1x4(int64_t kc, const float* x, const float* w, int64_t ldb, float* out) {
  const float* w0 = w;
  const float* w1 = w + ldb;
  const float* w2 = w + 2 * ldb;
  const float* w3 = w + 3 * ldb;
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  const int64_t k8 = kc - kc % 8;
  for (int64_t p = 0; p < k8; p += 8) {
    const __m256 v = _mm256_loadu_ps(x + p);
    a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w0 + p), a0);
    a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w1 + p), a1);
    a2 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w2 + p), a2);
    a3 = _mm256_fmadd_ps(v, _mm256_loadu_ps(w3 + p), a3);
  }
  float s[4] = {hsum(a0), hsum(a1), hsum(a2), hsum(a3)};
  for (int64_t p = k8; p < kc; ++p) {
    s[0] += x[p] * w0[p];
    s[1] += x[p] * w1[p];
    s[2] += x[p] * w2[p];
    s[3] += x[p] * w3[p];
  }
  for (int j = 0; j < 4; ++j) out[j] += s[j];
}

// Edge tiles (fewer than 3 rows or 4 columns): row by row, four columns at a time when there are four.
void dot_tile_edge(int64_t ri, int64_t rj, int64_t kc, const float* x, int64_t lda, const float* w, int64_t ldb,
                   float* out, int64_t ldo) {
  const int64_t k8 = kc - kc % 8;
  for (int64_t i = 0; i < ri; ++i) {
    const float* xi = x + i * lda;
    if (rj == 4) {
      dot_tile_1x4(kc, xi, w, ldb, out + i * ldo);
      continue;
    }
    for (int64_t j = 0; j < rj; ++j) {
      const float* wj = w + j * ldb;
      __m256 acc0 = _mm256_setzero_ps();
      __m256 acc1 = _mm256_setzero_ps();
      int64_t p = 0;
      for (; p + 16 <= k8; p += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(xi + p), _mm256_loadu_ps(wj + p), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(xi + p + 8), _mm256_loadu_ps(wj + p + 8), acc1);
      }
      for (; p < k8; p += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(xi + p), _mm256_loadu_ps(wj + p), acc0);
      float s = hsum(_mm256_add_ps(acc0, acc1));
      for (; p < kc; ++p) s += xi[p] * wj[p];
      out[i * ldo + j] += s;
    }
  }
}

// C = alpha · A · Bᵀ + beta · C with A [m × k] and B [n × k] both row-contiguous. k is walked in chunks so
// three rows of A stay in L1 while every column group of B passes over them; partial sums collect in a
// small row buffer and C is written once.
void dot_nt_avx2(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float beta, float* c, int64_t ldc) {
  constexpr int64_t kMaxN = 256;
  if (n > kMaxN) {
    for (int64_t j0 = 0; j0 < n; j0 += kMaxN) {
      dot_nt_avx2(m, std::min(kMaxN, n - j0), k, alpha, a, lda, b + j0 * ldb, ldb, beta, c + j0, ldc);
    }
    return;
  }
  constexpr int64_t kChunk = 512;
  alignas(64) float sums[3 * kMaxN];
  for (int64_t i0 = 0; i0 < m; i0 += 3) {
    const int64_t ri = std::min<int64_t>(3, m - i0);
    std::fill(sums, sums + 3 * n, 0.0f);
    for (int64_t pc = 0; pc < k; pc += kChunk) {
      const int64_t kc = std::min(kChunk, k - pc);
      const float* x = a + i0 * lda + pc;
      for (int64_t j0 = 0; j0 < n; j0 += 4) {
        const int64_t rj = std::min<int64_t>(4, n - j0);
        const float* w = b + j0 * ldb + pc;
        if (ri == 3 && rj == 4) {
          dot_tile_3x4(kc, x, lda, w, ldb, sums + j0, n);
        } else {
          dot_tile_edge(ri, rj, kc, x, lda, w, ldb, sums + j0, n);
        }
      }
    }
    for (int64_t i = 0; i < ri; ++i) {
      float* row = c + (i0 + i) * ldc;
      const float* s = sums + i * n;
      if (beta == 0.0f) {
        for (int64_t j = 0; j < n; ++j) row[j] = alpha * s[j];
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] = alpha * s[j] + beta * row[j];
      }
    }
  }
}

// KC × NR × 4 bytes (16 KiB at KC = 256) keeps a B micro-panel in a 32 KiB L1 next to the A micro-panel;
// MC × KC × 4 bytes (144 KiB) keeps the packed A block in L2; NC bounds the packed B block (4 MiB) in L3.
const KernelSet kAvx2 = {"avx2-fma",  kMR,         kNR,        144, 256, 4096, micro_avx2,
                         pack_a_avx2, pack_b_avx2, dot_nt_avx2};

}  // namespace

const KernelSet* avx2_kernels() { return &kAvx2; }

}  // namespace lorakit

#else

namespace lorakit {
const KernelSet* avx2_kernels() { return nullptr; }
}  // namespace lorakit

#endif
