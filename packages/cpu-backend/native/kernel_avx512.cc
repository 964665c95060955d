// AVX-512 kernels (F, DQ, BW, VL with FMA). This translation unit alone is compiled with -mavx512f
// -mavx512dq -mavx512bw -mavx512vl -mfma (binding.gyp), and the driver calls into it only after CPUID
// reports those extensions and XGETBV says the OS saves the zmm state (cpu_features.cc), so the addon still
// loads and runs on CPUs and kernels without AVX-512. On other architectures the file is empty apart from
// avx512_kernels() returning null.
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)

// GCC 12's _mm512_undefined_ps() initializes a variable from itself, which -W(maybe-)uninitialized reports
// wherever a shuffle or extract intrinsic is inlined (GCC bug 105593, fixed in 13); the warning's location is the
// header, so silencing it around the include covers exactly those.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace lorakit {
namespace {

// Register tile: NR = 32 is two 16-float zmm vectors; MR = 14 gives 28 accumulators, which with two B
// vectors and the broadcast A value (folded into the FMA as a {1to16} memory operand) fits the 32 zmm
// registers. Two FMA pipes with a latency of 4 need at least 8 independent accumulators; 28 leave the
// loads (2 vectors + 14 broadcasts per k) well under the FMA bound.
constexpr int64_t kMR = 14;
constexpr int64_t kNR = 32;
constexpr int kVecs = kNR / 16;

// Transposes sixteen rows of sixteen floats in place: afterwards r[q] holds column q of the input.
inline void transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // t[2i] holds, per 128-bit lane, (r2i[0], r2i+1[0], r2i[1], r2i+1[1]); t[2i+1] the elements 2 and 3.
  for (int i = 0; i < 4; ++i) {
    r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  // r[4i + q] now holds, in each 128-bit lane l, element 4l + q of rows 4i … 4i + 3.
  for (int q = 0; q < 4; ++q) {
    t[q + 0] = _mm512_shuffle_f32x4(r[q + 0], r[q + 4], 0x88);   // lanes 0, 2 of rows 0-3 and 4-7
    t[q + 4] = _mm512_shuffle_f32x4(r[q + 0], r[q + 4], 0xDD);   // lanes 1, 3
    t[q + 8] = _mm512_shuffle_f32x4(r[q + 8], r[q + 12], 0x88);  // lanes 0, 2 of rows 8-11 and 12-15
    t[q + 12] = _mm512_shuffle_f32x4(r[q + 8], r[q + 12], 0xDD);
  }
  for (int q = 0; q < 4; ++q) {
    r[q + 0] = _mm512_shuffle_f32x4(t[q + 0], t[q + 8], 0x88);    // lane 0: columns q
    r[q + 8] = _mm512_shuffle_f32x4(t[q + 0], t[q + 8], 0xDD);    // lane 2: columns 8 + q
    r[q + 4] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0x88);   // lane 1: columns 4 + q
    r[q + 12] = _mm512_shuffle_f32x4(t[q + 4], t[q + 12], 0xDD);  // lane 3: columns 12 + q
  }
}

// Row-contiguous op(A) (A not transposed): MR rows are read sixteen floats at a time, transposed as a
// 16 × 16 block (rows past MR zero) and stored MR floats per k with masked stores.
void pack_a_avx512(int64_t mc, int64_t kc, ConstView a, float* ap) {
  if (a.cs != 1) {
    pack_a_generic(kMR, mc, kc, a, ap);
    return;
  }
  const int64_t k16 = kc - kc % 16;
  const int64_t full = mc - mc % kMR;
  const __mmask16 rows_mask = static_cast<__mmask16>((1u << kMR) - 1);
  for (int64_t ir = 0; ir < full; ir += kMR) {
    const float* src = a.data + ir * a.rs;
    float* dst = ap + ir * kc;
    for (int64_t p = 0; p < k16; p += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = i < kMR ? _mm512_loadu_ps(src + i * a.rs + p) : _mm512_setzero_ps();
      transpose16x16(r);
      float* out = dst + p * kMR;
      for (int q = 0; q < 16; ++q) _mm512_mask_storeu_ps(out + q * kMR, rows_mask, r[q]);
    }
    for (int64_t p = k16; p < kc; ++p) {
      float* out = dst + p * kMR;
      for (int64_t i = 0; i < kMR; ++i) out[i] = src[i * a.rs + p];
    }
  }
  if (full < mc) {
    pack_a_generic(kMR, mc - full, kc, ConstView{a.data + full * a.rs, a.rs, a.cs}, ap + full * kc);
  }
}

// Row-contiguous op(B) is a straight copy, eight rows at a time across every panel (each row is read
// sequentially and each panel receives 1 KiB contiguous). Column-contiguous op(B) (B transposed, as in
// x · Wᵀ): sixteen columns are read sixteen floats at a time and transposed as 16 × 16 blocks.
void pack_b_avx512(int64_t kc, int64_t nc, ConstView b, float* bp) {
  const int64_t full = nc - nc % kNR;
  if (b.cs == 1) {
    constexpr int64_t kRows = 8;
    for (int64_t p0 = 0; p0 < kc; p0 += kRows) {
      const int64_t rows = std::min(kRows, kc - p0);
      for (int64_t jr = 0; jr < full; jr += kNR) {
        const float* src = b.data + p0 * b.rs + jr;
        float* dst = bp + jr * kc + p0 * kNR;
        for (int64_t p = 0; p < rows; ++p) {
          for (int v = 0; v < kVecs; ++v) {
            _mm512_store_ps(dst + p * kNR + 16 * v, _mm512_loadu_ps(src + p * b.rs + 16 * v));
          }
        }
      }
    }
  } else if (b.rs == 1) {
    const int64_t k16 = kc - kc % 16;
    for (int64_t jr = 0; jr < full; jr += kNR) {
      float* dst = bp + jr * kc;
      for (int v = 0; v < kVecs; ++v) {
        const float* col = b.data + (jr + 16 * v) * b.cs;
        const int64_t cs = b.cs;
        for (int64_t p = 0; p < k16; p += 16) {
          __m512 r[16];
          for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(col + j * cs + p);
          transpose16x16(r);
          float* out = dst + p * kNR + 16 * v;
          for (int q = 0; q < 16; ++q) _mm512_store_ps(out + q * kNR, r[q]);
        }
        for (int64_t p = k16; p < kc; ++p) {
          float* out = dst + p * kNR + 16 * v;
          for (int64_t j = 0; j < 16; ++j) out[j] = col[j * cs + p];
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

// The MR × NR micro-kernel. The accumulator array is indexed only by constants after full unrolling, so
// GCC and Clang keep it in registers (checked in the generated code: no stack traffic in the k loop).
template <int MR>
void micro_tile(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  // C's rows are ldc apart, so no hardware prefetcher sees them coming; ask for them now and let the
  // kc-long loop hide the latency.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + kNR - 1), _MM_HINT_T0);
  }
  __m512 acc[MR][kVecs];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm512_setzero_ps();
  }

#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m512 b[kVecs];
#pragma GCC unroll 4
    for (int v = 0; v < kVecs; ++v) b[v] = _mm512_load_ps(bp + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 x = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) acc[i][v] = _mm512_fmadd_ps(x, b[v], acc[i][v]);
    }
    ap += MR;
    bp += kNR;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) _mm512_storeu_ps(c + i * ldc + 16 * v, _mm512_mul_ps(acc[i][v], va));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < kVecs; ++v) {
        float* row = c + i * ldc + 16 * v;
        _mm512_storeu_ps(row, _mm512_fmadd_ps(acc[i][v], va, _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      }
    }
  }
}

void micro_avx512(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  micro_tile<kMR>(kc, ap, bp, c, ldc, alpha, beta);
}

// ---------------------------------------------------------------------------------------------------------
// The skinny product C = alpha · A · Bᵀ + beta · C with A [m × k] and B [n × k] both row-contiguous.

// Sums each of eight vectors: the result's lane j is the sum of v[j]'s sixteen lanes. Folding and
// pairwise horizontal adds share the shuffles across the eight sums (26 instructions instead of 64).
inline __m256 hsum8(const __m512 v[8]) {
  __m256 h[8];
  for (int j = 0; j < 8; ++j) {
    h[j] = _mm256_add_ps(_mm512_castps512_ps256(v[j]),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v[j]), 1)));
  }
  const __m256 s01 = _mm256_hadd_ps(h[0], h[1]);  // per 128-bit half: v0 pairs, v1 pairs
  const __m256 s23 = _mm256_hadd_ps(h[2], h[3]);
  const __m256 s45 = _mm256_hadd_ps(h[4], h[5]);
  const __m256 s67 = _mm256_hadd_ps(h[6], h[7]);
  const __m256 s0123 = _mm256_hadd_ps(s01, s23);  // per half: partial sums of v0, v1, v2, v3
  const __m256 s4567 = _mm256_hadd_ps(s45, s67);
  return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// Keeps a loaded vector in a register. Without it GCC folds the load into every FMA that uses the value
// (RI loads where one does), and the dot tiles become bound by loads instead of FMAs.
inline __m512 in_register(__m512 v) {
#if defined(__GNUC__) || defined(__clang__)
  __asm__("" : "+v"(v));
#endif
  return v;
}

// Floats before w's next 64-byte boundary: the tiles run that many columns masked first, so the eight w
// loads per step (against RI of x) do not split cache lines.
inline int64_t floats_to_alignment(const float* w, int64_t kc) {
  const int64_t misaligned = static_cast<int64_t>((0 - reinterpret_cast<uintptr_t>(w)) & 63) / 4;
  return std::min(misaligned, kc);
}

inline __mmask16 first_lanes(int64_t count) { return static_cast<__mmask16>((1u << count) - 1); }

// out[i][j] += Σ_p x_i[p] · w_j[p] for RI rows of x and 8 rows of w: 8 · RI zmm accumulators (24 for three
// rows), RI + 8 loads per 8 · RI FMAs. The head (up to w's alignment) and tail of k are masked loads.
template <int RI>
void dot_tile_x8(int64_t kc, const float* x, int64_t lda, const float* w, int64_t ldb, float* out, int64_t ldo) {
  __m512 acc[RI][8];
#pragma GCC unroll 4
  for (int i = 0; i < RI; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) acc[i][j] = _mm512_setzero_ps();
  }
  auto step = [&](int64_t p, __mmask16 mask) {
    __m512 xv[RI];
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i) xv[i] = _mm512_maskz_loadu_ps(mask, x + i * lda + p);
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m512 u = in_register(_mm512_maskz_loadu_ps(mask, w + j * ldb + p));
#pragma GCC unroll 4
      for (int i = 0; i < RI; ++i) acc[i][j] = _mm512_fmadd_ps(xv[i], u, acc[i][j]);
    }
  };
  const int64_t head = floats_to_alignment(w, kc);
  if (head > 0) step(0, first_lanes(head));
  int64_t p = head;
  for (; p + 16 <= kc; p += 16) step(p, static_cast<__mmask16>(0xFFFF));
  if (p < kc) step(p, first_lanes(kc - p));
#pragma GCC unroll 4
  for (int i = 0; i < RI; ++i) {
    float* o = out + i * ldo;
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), hsum8(acc[i])));
  }
}

// out[i][j] += Σ_p x_i[p] · w_j[p] for RI rows of x and RJ < 8 rows of w.
template <int RI>
void dot_tile_narrow(int64_t rj, int64_t kc, const float* x, int64_t lda, const float* w, int64_t ldb, float* out,
                     int64_t ldo) {
  for (int64_t j = 0; j < rj; ++j) {
    const float* wj = w + j * ldb;
    __m512 acc[RI];
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i) acc[i] = _mm512_setzero_ps();
    auto step = [&](int64_t p, __mmask16 mask) {
      const __m512 u = in_register(_mm512_maskz_loadu_ps(mask, wj + p));
#pragma GCC unroll 4
      for (int i = 0; i < RI; ++i) acc[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + i * lda + p), u, acc[i]);
    };
    const int64_t head = floats_to_alignment(wj, kc);
    if (head > 0) step(0, first_lanes(head));
    int64_t p = head;
    for (; p + 16 <= kc; p += 16) step(p, static_cast<__mmask16>(0xFFFF));
    if (p < kc) step(p, first_lanes(kc - p));
#pragma GCC unroll 4
    for (int i = 0; i < RI; ++i) out[i * ldo + j] += hsum(acc[i]);
  }
}

template <int RI>
void dot_rows(int64_t n, int64_t kc, const float* x, int64_t lda, const float* b, int64_t ldb, float* sums,
              int64_t lds) {
  int64_t j0 = 0;
  for (; j0 + 8 <= n; j0 += 8) dot_tile_x8<RI>(kc, x, lda, b + j0 * ldb, ldb, sums + j0, lds);
  if (j0 < n) dot_tile_narrow<RI>(n - j0, kc, x, lda, b + j0 * ldb, ldb, sums + j0, lds);
}

// Writes C = alpha · sums + beta · C for ri rows of n sums (sums row-major, n apart).
inline void store_rows(int64_t ri, int64_t n, const float* sums, float alpha, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < ri; ++i) {
    float* row = c + i * ldc;
    const float* s = sums + i * n;
    if (beta == 0.0f) {
      for (int64_t j = 0; j < n; ++j) row[j] = alpha * s[j];
    } else {
      for (int64_t j = 0; j < n; ++j) row[j] = alpha * s[j] + beta * row[j];
    }
  }
}

template <class F>
void with_rows(int64_t ri, F&& f) {
  if (ri == 3) {
    f(std::integral_constant<int, 3>{});
  } else if (ri == 2) {
    f(std::integral_constant<int, 2>{});
  } else {
    f(std::integral_constant<int, 1>{});
  }
}

// Few columns (LoRA's x · Aᵀ, n = r ≤ 32) and many rows: B is the small operand, so its rows are held close
// one k chunk at a time (64 KiB: 2048 floats of 8 rows, 512 of 32) while every row of A streams past once;
// each chunk's partial sums are added into C. Holding three rows of A instead and streaming B (below)
// re-reads all of B for every three rows of A. A 64 KiB chunk (in L2) measured faster than 32 KiB (in
// L1): fewer chunks, fewer horizontal sums (one core, 512 × 16 × 4096: 143 → 161 GFLOP/s).
void dot_nt_b_stationary(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float beta, float* c, int64_t ldc) {
  const int64_t chunk = std::max<int64_t>(512, 16384 / n / 16 * 16);
  alignas(64) float sums[3 * 32];
  for (int64_t pc = 0; pc < k; pc += chunk) {
    const int64_t kc = std::min(chunk, k - pc);
    // beta applies once, with the first chunk; later chunks add to what is there.
    const float chunk_beta = pc == 0 ? beta : 1.0f;
    for (int64_t i0 = 0; i0 < m; i0 += 3) {
      const int64_t ri = std::min<int64_t>(3, m - i0);
      std::fill(sums, sums + 3 * n, 0.0f);
      with_rows(ri, [&](auto rows) { dot_rows<decltype(rows)::value>(n, kc, a + i0 * lda + pc, lda, b + pc, ldb, sums, n); });
      store_rows(ri, n, sums, alpha, chunk_beta, c + i0 * ldc, ldc);
    }
  }
}

// Few rows (matrix-vector products, m ≤ 3) or many columns: A's rows are the small operand, held in L1
// one k chunk at a time (three rows of 2048 floats, 24 KiB) while every row of B passes over them once.
void dot_nt_a_stationary(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float beta, float* c, int64_t ldc) {
  constexpr int64_t kMaxN = 256;
  if (n > kMaxN) {
    for (int64_t j0 = 0; j0 < n; j0 += kMaxN) {
      dot_nt_a_stationary(m, std::min(kMaxN, n - j0), k, alpha, a, lda, b + j0 * ldb, ldb, beta, c + j0, ldc);
    }
    return;
  }
  // With one column group the chunks buy nothing: B's rows are read once per three rows of A either way.
  const int64_t chunk = n <= 8 ? std::max<int64_t>(k, 1) : 2048;
  alignas(64) float sums[3 * kMaxN];
  for (int64_t i0 = 0; i0 < m; i0 += 3) {
    const int64_t ri = std::min<int64_t>(3, m - i0);
    std::fill(sums, sums + 3 * n, 0.0f);
    for (int64_t pc = 0; pc < k; pc += chunk) {
      const int64_t kc = std::min(chunk, k - pc);
      with_rows(ri, [&](auto rows) { dot_rows<decltype(rows)::value>(n, kc, a + i0 * lda + pc, lda, b + pc, ldb, sums, n); });
    }
    store_rows(ri, n, sums, alpha, beta, c + i0 * ldc, ldc);
  }
}

void dot_nt_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
                   int64_t ldb, float beta, float* c, int64_t ldc) {
  if (n <= 32 && m > 3) {
    dot_nt_b_stationary(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  } else {
    dot_nt_a_stationary(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
}

// Blocking, measured on a Zen 5 (48 KiB L1d, 1 MiB L2 per core): KC = 512 halves the passes over C
// against KC = 256 (4096³: 181 → 209 GFLOP/s on one core), although the 64 KiB B micro-panel then lives in
// L2 rather than L1 — L2 delivers the ~13 bytes per cycle the tile reads several times over. MC × KC × 4 =
// 336 KiB of packed A stays in L2 next to it; KC × NC × 4 = 8 MiB of packed B in L3.
const KernelSet kAvx512 = {"avx512",      kMR,         kNR,          168, 512, 4096, micro_avx512,
                           pack_a_avx512, pack_b_avx512, dot_nt_avx512};

}  // namespace

const KernelSet* avx512_kernels() { return &kAvx512; }

}  // namespace lorakit

#else

namespace lorakit {
const KernelSet* avx512_kernels() { return nullptr; }
}  // namespace lorakit

#endif
