// The FlashAttention-2 backward (included by flash.cuh), in three kernels:
//   flash_backward_delta   Δ_i = Σ_d dO_id · O_id in f32, one warp per row of [B, H, T];
//   flash_backward_*       one CTA per (b, key/value head, block of 64 keys), looping over the query heads
//                          of its group and their blocks of 64 queries: recomputes Pᵀ = exp(scale·K·Qᵀ −
//                          lse), dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ∘ (dPᵀ − Δ), and accumulates dV += Pᵀ·dO and
//                          dK += dSᵀ·Q in registers (warp w owns keys 16w … 16w + 15, so no atomics), and
//                          dQ += scale·dS·K with f32 atomics into dqAccum;
//   flash_backward_dq      dqAccum → dq in the dtype.
// Dynamic shared memory: four tiles of 64 × (D + 8) values (k, v, q, dO) and dSᵀ as 64 × 72 values.
#pragma once

#define FLASH_DS_STRIDE 72

extern "C" __global__ void flash_backward_delta(const FlashParams p) {
  const i64 rows = p.batch * p.heads * p.queries, D = p.headDim;
  const int lane = threadIdx.x & 31;
  const bool bf16 = p.dtype == DT_BF16;
  for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < rows;
       row += ((i64)gridDim.x * blockDim.x) >> 5) {
    const i64 i = row % p.queries, h = (row / p.queries) % p.heads, b = row / (p.queries * p.heads);
    const unsigned short* dO =
        (const unsigned short*)p.dout + b * p.doStrides[0] + h * p.doStrides[1] + i * p.doStrides[2];
    const unsigned short* o = (const unsigned short*)p.out + row * D;
    float sum = 0.f;
    for (i64 d = lane; d < D; d += 32)
      sum += bf16 ? bf16_to_float(dO[d]) * bf16_to_float(o[d]) : half_to_float(dO[d]) * half_to_float(o[d]);
    sum = warp_sum(sum);
    if (lane == 0) ((float*)p.delta)[row] = sum;
  }
}

extern "C" __global__ void flash_backward_dq(const FlashParams p) {
  const i64 n = p.batch * p.heads * p.queries * p.headDim;
  GRID_STRIDE(i, n) store<float>(p.dq, (int)p.dtype, i, ((const float*)p.dqAccum)[i]);
}

template <int D, bool BF16>
__device__ void flash_backward(const FlashParams& p) {
#if __CUDA_ARCH__ >= 800
  constexpr int STRIDE = D + 8;
  constexpr int KSTEPS = D / 16;
  constexpr int DTILES = D / 8;
  unsigned short* sK = dynamic_shared();
  unsigned short* sV = sK + FLASH_BLOCK * STRIDE;
  unsigned short* sQ = sV + FLASH_BLOCK * STRIDE;
  unsigned short* sdO = sQ + FLASH_BLOCK * STRIDE;
  unsigned short* sdS = sdO + FLASH_BLOCK * STRIDE;  // dSᵀ: [key][query]
  __shared__ float sLse[FLASH_BLOCK];    // per query, in log2 units
  __shared__ float sDelta[FLASH_BLOCK];  // per query
  __shared__ unsigned char visible[FLASH_BLOCK];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3, quad = lane >> 3;
  const i64 T = p.queries, S = p.keys, H = p.heads, KVH = p.kvHeads, offset = S - T;
  const i64 groups = H / KVH;
  const i64 b = blockIdx.y / KVH, kvh = blockIdx.y % KVH;
  const i64 k0 = (i64)blockIdx.x * FLASH_BLOCK;
  const float scale2 = (float)(p.scale * 1.4426950408889634);

  float dk[DTILES][4], dv[DTILES][4];
#pragma unroll
  for (int j = 0; j < DTILES; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.f;

  // Query blocks that can see a key of this block: causal rows i ≥ k0 − offset; with a window also
  // i < (last key) − offset + window.
  i64 qBegin = 0, qEnd = T;
  if (p.causal) {
    if (k0 - offset > 0) qBegin = (k0 - offset) / FLASH_BLOCK * FLASH_BLOCK;
    if (p.window > 0) {
      const i64 lastKey = (k0 + FLASH_BLOCK < S ? k0 + FLASH_BLOCK : S) - 1;
      if (lastKey - offset + p.window < qEnd) qEnd = lastKey - offset + p.window;
    }
  }
  const int keyRow = warp * 16 + g;  // this lane's keys (within the block): keyRow and keyRow + 8

  // Steps: the query heads of the group × their query blocks. Pipeline (cp.async): q and dO of step n + 1
  // load while dQ of step n computes (it reads only dSᵀ and k). Invariant at the top of the loop: q, dO,
  // lse and Δ of step n are in shared memory and visible.
  const i64 blocks = qEnd > qBegin ? (qEnd - qBegin + FLASH_BLOCK - 1) / FLASH_BLOCK : 0;
  const i64 steps = groups * blocks;
  auto stage = [&](i64 n) {
    const i64 h = kvh * groups + n / blocks, q0 = qBegin + (n % blocks) * FLASH_BLOCK;
    load_tile<D>(sQ, (const unsigned short*)p.q + b * p.qStrides[0] + h * p.qStrides[1], p.qStrides[2], q0, T);
    load_tile<D>(sdO, (const unsigned short*)p.dout + b * p.doStrides[0] + h * p.doStrides[1], p.doStrides[2], q0,
                 T);
    if (threadIdx.x < FLASH_BLOCK) {
      const i64 i = q0 + threadIdx.x, at = (b * H + h) * T + i;
      sLse[threadIdx.x] = i < T ? ((const float*)p.lse)[at] * 1.4426950408889634f : 0.f;
      sDelta[threadIdx.x] = i < T ? ((const float*)p.delta)[at] : 0.f;
    }
  };
  load_tile<D>(sK, (const unsigned short*)p.k + b * p.kStrides[0] + kvh * p.kStrides[1], p.kStrides[2], k0, S);
  load_tile<D>(sV, (const unsigned short*)p.v + b * p.vStrides[0] + kvh * p.vStrides[1], p.vStrides[2], k0, S);
  load_key_mask(visible, p, b, k0);
  if (steps > 0) stage(0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  for (i64 n = 0; n < steps; ++n) {
    const i64 h = kvh * groups + n / blocks, q0 = qBegin + (n % blocks) * FLASH_BLOCK;
    const i64 rowBase = (b * H + h) * T;
    // sT = K·Qᵀ and dpT = V·dOᵀ for the warp's 16 keys × 64 queries.
    float pt[8][4], dpt[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) pt[j][e] = dpt[j][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KSTEPS; ++kk) {
      unsigned ka[4], va[4];
      ldmatrix_x4(ka, sK + (warp * 16 + (lane & 15)) * STRIDE + kk * 16 + (lane >> 4) * 8);
      ldmatrix_x4(va, sV + (warp * 16 + (lane & 15)) * STRIDE + kk * 16 + (lane >> 4) * 8);
#pragma unroll
      for (int pair = 0; pair < 4; ++pair) {
        unsigned qb[4], ob[4];
        const int at = (pair * 16 + (lane & 7) + (quad >> 1) * 8) * STRIDE + kk * 16 + (quad & 1) * 8;
        ldmatrix_x4(qb, sQ + at);
        ldmatrix_x4(ob, sdO + at);
        mma16816<BF16>(pt[2 * pair], ka, qb[0], qb[1]);
        mma16816<BF16>(pt[2 * pair + 1], ka, qb[2], qb[3]);
        mma16816<BF16>(dpt[2 * pair], va, ob[0], ob[1]);
        mma16816<BF16>(dpt[2 * pair + 1], va, ob[2], ob[3]);
      }
    }

    // Pᵀ = exp(scale·s − lse) where visible, else 0; dSᵀ = Pᵀ ∘ (dPᵀ − Δ) (overwrites dpt).
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = keyRow + (e >> 1) * 8, c = j * 8 + 2 * t + (e & 1);
        const i64 row = q0 + c;
        const bool ok = row < T && visible[key] && flash_visible(p, offset, row, k0 + key);
        pt[j][e] = ok ? exp2_approx(pt[j][e] * scale2 - sLse[c]) : 0.f;
        dpt[j][e] = pt[j][e] * (dpt[j][e] - sDelta[c]);
      }
    }

    // dV += Pᵀ·dO and dK += dSᵀ·Q: the accumulators are A fragments over queries 16kk … 16kk + 15.
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const unsigned pa[4] = {
          pack_pair<BF16>(pt[2 * kk][0], pt[2 * kk][1]), pack_pair<BF16>(pt[2 * kk][2], pt[2 * kk][3]),
          pack_pair<BF16>(pt[2 * kk + 1][0], pt[2 * kk + 1][1]),
          pack_pair<BF16>(pt[2 * kk + 1][2], pt[2 * kk + 1][3])};
      const unsigned sa[4] = {
          pack_pair<BF16>(dpt[2 * kk][0], dpt[2 * kk][1]), pack_pair<BF16>(dpt[2 * kk][2], dpt[2 * kk][3]),
          pack_pair<BF16>(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]),
          pack_pair<BF16>(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < KSTEPS; ++dp) {
        unsigned ob[4], qb[4];
        const int at = (kk * 16 + (lane & 7) + (quad & 1) * 8) * STRIDE + dp * 16 + (quad >> 1) * 8;
        ldmatrix_x4_trans(ob, sdO + at);
        ldmatrix_x4_trans(qb, sQ + at);
        mma16816<BF16>(dv[2 * dp], pa, ob[0], ob[1]);
        mma16816<BF16>(dv[2 * dp + 1], pa, ob[2], ob[3]);
        mma16816<BF16>(dk[2 * dp], sa, qb[0], qb[1]);
        mma16816<BF16>(dk[2 * dp + 1], sa, qb[2], qb[3]);
      }
      // dSᵀ to shared memory (rows keyRow and keyRow + 8, queries 16kk + 2t … of both tiles).
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int j = 2 * kk + half;
        *(unsigned*)(sdS + keyRow * FLASH_DS_STRIDE + j * 8 + 2 * t) = pack_pair<BF16>(dpt[j][0], dpt[j][1]);
        *(unsigned*)(sdS + (keyRow + 8) * FLASH_DS_STRIDE + j * 8 + 2 * t) = pack_pair<BF16>(dpt[j][2], dpt[j][3]);
      }
    }
    __syncthreads();  // dSᵀ is complete; every warp is done with q, dO, lse and Δ
    if (n + 1 < steps) stage(n + 1);
    cp_async_commit();

    // dQ += scale·dS·K for the warp's 16 queries: A = dS read transposed from dSᵀ, B = K read transposed.
    unsigned da[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; ++kk)
      ldmatrix_x4_trans(da[kk], sdS + (kk * 16 + (lane & 7) + (quad >> 1) * 8) * FLASH_DS_STRIDE + warp * 16 + (quad & 1) * 8);
    const i64 queryRow = q0 + warp * 16 + g;
    float* accum = (float*)p.dqAccum;
#pragma unroll
    for (int dp = 0; dp < KSTEPS; ++dp) {
      float acc[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        unsigned kb[4];
        ldmatrix_x4_trans(kb, sK + (kk * 16 + (lane & 7) + (quad & 1) * 8) * STRIDE + dp * 16 + (quad >> 1) * 8);
        mma16816<BF16>(acc[0], da[kk], kb[0], kb[1]);
        mma16816<BF16>(acc[1], da[kk], kb[2], kb[3]);
      }
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int d = dp * 16 + half * 8 + 2 * t;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          const i64 row = queryRow + r * 8;
          if (row >= T) continue;
          float* at = accum + (rowBase + row) * D + d;
          atomicAdd(at, acc[half][2 * r] * (float)p.scale);
          atomicAdd(at + 1, acc[half][2 * r + 1] * (float)p.scale);
        }
      }
    }
    cp_async_wait_all();
    __syncthreads();  // the next step's q, dO, lse and Δ are visible; every warp is done with dSᵀ
  }

  // dK (scaled) and dV for keys keyRow and keyRow + 8, rounded once.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const i64 key = k0 + keyRow + r * 8;
    if (key >= S) continue;
    const i64 at = ((b * KVH + kvh) * S + key) * D;
    unsigned* dkOut = (unsigned*)((unsigned short*)p.dk + at);
    unsigned* dvOut = (unsigned*)((unsigned short*)p.dv + at);
#pragma unroll
    for (int j = 0; j < DTILES; ++j) {
      dkOut[j * 4 + t] = pack_pair<BF16>(dk[j][2 * r] * (float)p.scale, dk[j][2 * r + 1] * (float)p.scale);
      dvOut[j * 4 + t] = pack_pair<BF16>(dv[j][2 * r], dv[j][2 * r + 1]);
    }
  }
#endif
}

extern "C" __global__ void flash_backward_bf16_64(const FlashParams p) { flash_backward<64, true>(p); }
extern "C" __global__ void flash_backward_bf16_128(const FlashParams p) { flash_backward<128, true>(p); }
extern "C" __global__ void flash_backward_f16_64(const FlashParams p) { flash_backward<64, false>(p); }
extern "C" __global__ void flash_backward_f16_128(const FlashParams p) { flash_backward<128, false>(p); }
