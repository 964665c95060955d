// Skinny products of mixed dtypes, for LoRA factors in float32 on a 16-bit layer (PEFT's
// autocast_adapter_dtype): x·Aᵀ and g·B (a narrow output, one warp per row), the weight gradients
// gᵀ·h and hᵀ·x (a reduction over the rows, split in chunks summed in a fixed order), and the
// expansion base + s·h·Bᵀ rounded once to the layer's dtype. Every operand is read in its own dtype
// and products accumulate in float32, so no widened copy of x or g is made. r ≤ 64.
#pragma once
#include "common.cuh"

#define LORA_KC 128

/** out[i, j] = Σ_t a[i, t]·b[t, j] (float32) for a [m, k], b [k, n], n ≤ NMAX; any strides. */
struct SkinnyRowsParams {
  float* out;
  const void* a;
  i64 aDtype, aOffset, aStride0, aStride1;
  const void* b;
  i64 bDtype, bOffset, bStride0, bStride1;
  i64 m, k, n;
  i64 outStride0, outStride1;
};

// 8 warps per block, R rows per warp; b's k-chunk is staged in shared memory for the whole block.
template <int NMAX, int R>
__device__ void skinny_rows_body(const SkinnyRowsParams& p) {
  __shared__ float sb[NMAX][LORA_KC];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int n = (int)p.n;
  const int aDt = (int)p.aDtype, bDt = (int)p.bDtype;
  const i64 rowsPerBlock = (i64)(blockDim.x >> 5) * R;
  for (i64 first = (i64)blockIdx.x * rowsPerBlock; first < p.m; first += (i64)gridDim.x * rowsPerBlock) {
    const i64 row0 = first + (i64)warp * R;
    float acc[R][NMAX];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int j = 0; j < NMAX; ++j) acc[r][j] = 0.f;
    for (i64 k0 = 0; k0 < p.k; k0 += LORA_KC) {
      const int kc = (int)(p.k - k0 < LORA_KC ? p.k - k0 : LORA_KC);
      __syncthreads();
      for (int e = threadIdx.x; e < NMAX * LORA_KC; e += blockDim.x) {
        const int j = e / LORA_KC, t = e % LORA_KC;
        sb[j][t] = j < n && t < kc ? load<float>(p.b, bDt, p.bOffset + (k0 + t) * p.bStride0 + j * p.bStride1) : 0.f;
      }
      __syncthreads();
      for (int t = lane; t < kc; t += 32) {
        float xv[R];
#pragma unroll
        for (int r = 0; r < R; ++r) {
          const i64 row = row0 + r;
          xv[r] = row < p.m ? load<float>(p.a, aDt, p.aOffset + row * p.aStride0 + (k0 + t) * p.aStride1) : 0.f;
        }
#pragma unroll
        for (int j = 0; j < NMAX; ++j) {
          const float bv = sb[j][t];
#pragma unroll
          for (int r = 0; r < R; ++r) acc[r][j] += xv[r] * bv;
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const i64 row = row0 + r;
#pragma unroll
      for (int j = 0; j < NMAX; ++j) {
        const float v = warp_sum(acc[r][j]);
        if (lane == 0 && row < p.m && j < n) p.out[row * p.outStride0 + j * p.outStride1] = v;
      }
    }
  }
}
extern "C" __global__ void skinny_rows_16(const SkinnyRowsParams p) { skinny_rows_body<16, 4>(p); }
extern "C" __global__ void skinny_rows_64(const SkinnyRowsParams p) { skinny_rows_body<64, 1>(p); }

/**
 * partial[c, i, j] = Σ_{t in chunk c} p[t, i]·q[t, j] (float32) for p [K, I], q [K, J], J ≤ NMAX: one
 * thread per i, blockIdx.y the chunk of `chunk` rows. `chunk_sum` adds the chunks in order.
 */
struct SkinnyColsParams {
  float* partial;
  const void* p;
  i64 pDtype, pOffset, pStrideK, pStrideI;
  const void* q;
  i64 qDtype, qOffset, qStrideK, qStrideJ;
  i64 I, K, J;
  i64 chunk;
};

template <int NMAX>
__device__ void skinny_cols_body(const SkinnyColsParams& p) {
  __shared__ float sq[LORA_KC][NMAX];
  const i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  const i64 c = blockIdx.y;
  const i64 kBegin = c * p.chunk;
  const i64 kEnd = kBegin + p.chunk < p.K ? kBegin + p.chunk : p.K;
  const int J = (int)p.J;
  const int pDt = (int)p.pDtype, qDt = (int)p.qDtype;
  float acc[NMAX];
#pragma unroll
  for (int j = 0; j < NMAX; ++j) acc[j] = 0.f;
  for (i64 k0 = kBegin; k0 < kEnd; k0 += LORA_KC) {
    const int kc = (int)(kEnd - k0 < LORA_KC ? kEnd - k0 : LORA_KC);
    __syncthreads();
    for (int e = threadIdx.x; e < LORA_KC * NMAX; e += blockDim.x) {
      const int t = e / NMAX, j = e % NMAX;
      sq[t][j] = t < kc && j < J ? load<float>(p.q, qDt, p.qOffset + (k0 + t) * p.qStrideK + j * p.qStrideJ) : 0.f;
    }
    __syncthreads();
    if (i < p.I) {
      for (int t = 0; t < kc; ++t) {
        const float pv = load<float>(p.p, pDt, p.pOffset + (k0 + t) * p.pStrideK + i * p.pStrideI);
#pragma unroll
        for (int j = 0; j < NMAX; ++j) acc[j] += pv * sq[t][j];
      }
    }
  }
  if (i < p.I) {
    float* out = p.partial + (c * p.I + i) * p.J;
#pragma unroll
    for (int j = 0; j < NMAX; ++j)
      if (j < J) out[j] = acc[j];
  }
}
extern "C" __global__ void skinny_cols_16(const SkinnyColsParams p) { skinny_cols_body<16>(p); }
extern "C" __global__ void skinny_cols_64(const SkinnyColsParams p) { skinny_cols_body<64>(p); }

/** out[i·outStride0 + j·outStride1] = Σ_c partial[c, i, j], chunks added in order. */
struct ChunkSumParams {
  const float* partial;
  float* out;
  i64 chunks, I, J;
  i64 outStride0, outStride1;
};
extern "C" __global__ void chunk_sum(const ChunkSumParams p) {
  GRID_STRIDE(e, p.I * p.J) {
    const i64 i = e / p.J, j = e % p.J;
    float s = 0.f;
    for (i64 c = 0; c < p.chunks; ++c) s += p.partial[(c * p.I + i) * p.J + j];
    p.out[i * p.outStride0 + j * p.outStride1] = s;
  }
}

/**
 * out[i, n] = round(base[i, n] + s·Σ_j h[i, j]·m[j, n]) in base's dtype, [rows, N] contiguous; h
 * [rows, r] and m [r, N] float32, r ≤ NMAX. The term is float32 (products and sum in order, then the
 * scale); with roundTerm it is rounded to base's dtype before the sum (two 16-bit gradients summed).
 * Each thread owns a column and keeps its r values of m in registers; rows come in tiles of 32 whose
 * h values sit in shared memory.
 */
struct LoraExpandParams {
  void* out;
  const void* base;
  i64 baseDtype, baseOffset, baseStride0, baseStride1;
  const float* h;
  i64 hOffset, hStride0, hStride1;
  const float* m;
  i64 mOffset, mStride0, mStride1;
  i64 rows, N, r;
  double scale;
  i64 roundTerm;
};

__device__ __forceinline__ float round_to(int dtype, float v) {
  if (dtype == DT_BF16) return bf16_to_float(float_to_bf16(v));
  if (dtype == DT_F16) return half_to_float(float_to_half(v));
  return v;
}

template <int NMAX>
__device__ void lora_expand_body(const LoraExpandParams& p) {
  __shared__ float sh[32][NMAX];
  const i64 col = (i64)blockIdx.x * blockDim.x + threadIdx.x;
  const int r = (int)p.r;
  const int dt = (int)p.baseDtype;
  const float scale = (float)p.scale;
  float mv[NMAX];
#pragma unroll
  for (int j = 0; j < NMAX; ++j) mv[j] = col < p.N && j < r ? p.m[p.mOffset + j * p.mStride0 + col * p.mStride1] : 0.f;
  for (i64 row0 = (i64)blockIdx.y * 32; row0 < p.rows; row0 += (i64)gridDim.y * 32) {
    __syncthreads();
    for (int e = threadIdx.x; e < 32 * NMAX; e += blockDim.x) {
      const int rr = e / NMAX, j = e % NMAX;
      const i64 row = row0 + rr;
      sh[rr][j] = row < p.rows && j < r ? p.h[p.hOffset + row * p.hStride0 + j * p.hStride1] : 0.f;
    }
    __syncthreads();
    if (col >= p.N) continue;
    for (int rr = 0; rr < 32 && row0 + rr < p.rows; ++rr) {
      const i64 row = row0 + rr;
      float t = 0.f;
#pragma unroll
      for (int j = 0; j < NMAX; ++j) t += sh[rr][j] * mv[j];
      t = t * scale;
      if (p.roundTerm) t = round_to(dt, t);
      const float v = load<float>(p.base, dt, p.baseOffset + row * p.baseStride0 + col * p.baseStride1) + t;
      store<float>(p.out, dt, row * p.N + col, v);
    }
  }
}
extern "C" __global__ void lora_expand_16(const LoraExpandParams p) { lora_expand_body<16>(p); }
extern "C" __global__ void lora_expand_64(const LoraExpandParams p) { lora_expand_body<64>(p); }
