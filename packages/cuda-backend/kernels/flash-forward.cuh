// The FlashAttention-2 forward (included by flash.cuh). Grid: (⌈T / 64⌉, B·H), 128 threads; warp w owns
// query rows 16w … 16w + 15 of its block, and each lane two of them (g and g + 8). Dynamic shared memory:
// three tiles of 64 × (D + 8) 16-bit values (q, k, v).
#pragma once

template <int D, bool BF16>
__device__ void flash_forward(const FlashParams& p) {
#if __CUDA_ARCH__ >= 800
  constexpr int STRIDE = D + 8;
  constexpr int KSTEPS = D / 16;
  constexpr int DTILES = D / 8;
  unsigned short* sQ = dynamic_shared();
  unsigned short* sK = sQ + FLASH_BLOCK * STRIDE;
  unsigned short* sV = sK + FLASH_BLOCK * STRIDE;
  __shared__ unsigned char visible[FLASH_BLOCK];

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3, quad = lane >> 3;
  const i64 T = p.queries, S = p.keys, H = p.heads, offset = S - T;
  const i64 b = blockIdx.y / H, h = blockIdx.y % H, kvh = h / (H / p.kvHeads);
  // Causal blocks late in the sequence see the most keys: start them first (shorter tail).
  const i64 q0 = (i64)(gridDim.x - 1 - blockIdx.x) * FLASH_BLOCK;
  const unsigned short* qBase = (const unsigned short*)p.q + b * p.qStrides[0] + h * p.qStrides[1];
  const unsigned short* kBase = (const unsigned short*)p.k + b * p.kStrides[0] + kvh * p.kStrides[1];
  const unsigned short* vBase = (const unsigned short*)p.v + b * p.vStrides[0] + kvh * p.vStrides[1];

  // Key blocks that can hold a visible key for some row of this block (the others are skipped).
  i64 kBegin = 0, kEnd = S;
  if (p.causal) {
    const i64 last = (q0 + FLASH_BLOCK < T ? q0 + FLASH_BLOCK : T) - 1;
    kEnd = offset + last + 1 < S ? offset + last + 1 : S;
    if (p.window > 0 && offset + q0 - p.window + 1 > 0) kBegin = (offset + q0 - p.window + 1) / FLASH_BLOCK * FLASH_BLOCK;
  }
  // Pipeline (cp.async): v of block j loads while s = q·kᵀ of block j computes, k of block j + 1 while
  // o += p·v of block j does. Invariant at the top of the loop: k and the key mask of block k0 are in
  // shared memory and visible, and no warp reads v.
  load_tile<D>(sQ, qBase, p.qStrides[2], q0, T);
  if (kBegin < kEnd) {
    load_tile<D>(sK, kBase, p.kStrides[2], kBegin, S);
    load_key_mask(visible, p, b, kBegin);
  }
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();
  // The warp's 16 query rows stay in registers as A fragments for every key block.
  unsigned qf[KSTEPS][4];
#pragma unroll
  for (int kk = 0; kk < KSTEPS; ++kk) ldmatrix_x4(qf[kk], sQ + (warp * 16 + (lane & 15)) * STRIDE + kk * 16 + (lane >> 4) * 8);

  const i64 row0 = q0 + warp * 16 + g;  // this lane's rows: row0 and row0 + 8
  float o[DTILES][4];
#pragma unroll
  for (int j = 0; j < DTILES; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.f;
  float m[2] = {negative_infinity(), negative_infinity()};  // running max of the log2-scaled scores
  float l[2] = {0.f, 0.f};  // this lane's part of the running sum (the quad's four parts add up at the end)
  const float scale2 = (float)(p.scale * 1.4426950408889634);  // scores in log2 units: exp(x) = 2^(x·log2 e)

  for (i64 k0 = kBegin; k0 < kEnd; k0 += FLASH_BLOCK) {
    load_tile<D>(sV, vBase, p.vStrides[2], k0, S);
    cp_async_commit();

    // s = q·kᵀ for 16 rows × 64 keys: 8 tiles of 8 keys; one ldmatrix gives B for two tiles.
    float s[8][4];
#pragma unroll
    for (int j = 0; j < 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int pair = 0; pair < 4; ++pair) {
#pragma unroll
      for (int kk = 0; kk < KSTEPS; ++kk) {
        unsigned kb[4];
        ldmatrix_x4(kb, sK + (pair * 16 + (lane & 7) + (quad >> 1) * 8) * STRIDE + kk * 16 + (quad & 1) * 8);
        mma16816<BF16>(s[2 * pair], qf[kk], kb[0], kb[1]);
        mma16816<BF16>(s[2 * pair + 1], qf[kk], kb[2], kb[3]);
      }
    }

    // Scale and mask; the new row maxima over the quad (the four lanes that share a row).
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1, c = j * 8 + 2 * t + (e & 1);
        const bool ok = visible[c] && flash_visible(p, offset, row0 + r * 8, k0 + c);
        s[j][e] = ok ? s[j][e] * scale2 : negative_infinity();
        mx[r] = fmaxf(mx[r], s[j][e]);
      }
    }
    float base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      // A row that has seen no key yet keeps m = −∞; exponents are then taken against 0 (all give 0).
      base[r] = mx[r] == negative_infinity() ? 0.f : mx[r];
      const float alpha = exp2_approx(m[r] - base[r]);
      m[r] = mx[r];
      l[r] *= alpha;
#pragma unroll
      for (int j = 0; j < DTILES; ++j) {
        o[j][2 * r] *= alpha;
        o[j][2 * r + 1] *= alpha;
      }
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[j][e] = exp2_approx(s[j][e] - base[e >> 1]);
        l[e >> 1] += s[j][e];
      }
    }

    cp_async_wait_all();
    __syncthreads();  // v of this block is visible; every warp is done with k and the key mask
    if (k0 + FLASH_BLOCK < kEnd) {
      load_tile<D>(sK, kBase, p.kStrides[2], k0 + FLASH_BLOCK, S);
      load_key_mask(visible, p, b, k0 + FLASH_BLOCK);
    }
    cp_async_commit();

    // o += p·v: p's accumulators are the A fragments (keys 16kk … 16kk + 15 are tiles 2kk and 2kk + 1).
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      const unsigned a[4] = {pack_pair<BF16>(s[2 * kk][0], s[2 * kk][1]), pack_pair<BF16>(s[2 * kk][2], s[2 * kk][3]),
                             pack_pair<BF16>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack_pair<BF16>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < KSTEPS; ++dp) {
        unsigned vb[4];
        ldmatrix_x4_trans(vb, sV + (kk * 16 + (lane & 7) + (quad & 1) * 8) * STRIDE + dp * 16 + (quad >> 1) * 8);
        mma16816<BF16>(o[2 * dp], a, vb[0], vb[1]);
        mma16816<BF16>(o[2 * dp + 1], a, vb[2], vb[3]);
      }
    }
    cp_async_wait_all();
    __syncthreads();  // k and the key mask of the next block are visible; every warp is done with v
  }

  // o / l rounded once; a row that saw no key gets 0 and logsumexp −∞.
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    const i64 row = row0 + r * 8;
    if (row >= T) continue;
    const float inverse = l[r] > 0.f ? 1.f / l[r] : 0.f;
    const i64 at = ((b * H + h) * T + row) * D;
    unsigned* out = (unsigned*)((unsigned short*)p.out + at);
#pragma unroll
    for (int j = 0; j < DTILES; ++j)
      out[(j * 8 + 2 * t) / 2] = pack_pair<BF16>(o[j][2 * r] * inverse, o[j][2 * r + 1] * inverse);
    if (t == 0)
      ((float*)p.lse)[(b * H + h) * T + row] =
          l[r] > 0.f ? m[r] * 0.6931471805599453f + logf(l[r]) : negative_infinity();
  }
#endif
}

extern "C" __global__ void flash_forward_bf16_64(const FlashParams p) {
  flash_forward<64, true>(p);
}
extern "C" __global__ void flash_forward_bf16_128(const FlashParams p) {
  flash_forward<128, true>(p);
}
extern "C" __global__ void flash_forward_f16_64(const FlashParams p) {
  flash_forward<64, false>(p);
}
extern "C" __global__ void flash_forward_f16_128(const FlashParams p) {
  flash_forward<128, false>(p);
}
