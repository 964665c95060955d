// FlashAttention-2 (Dao 2023) forward and backward for float16/bfloat16 q, k, v with head size 64 or 128,
// on tensor cores through inline PTX (mma.sync m16n8k16 with f32 accumulation, ldmatrix), so that no CUDA
// header is needed. The scores [B, H, T, S] never exist in memory: each CTA streams blocks of 64 keys
// through shared memory and keeps an online softmax (running max m, running sum l) in f32 registers.
//
// Layout conventions of mma.m16n8k16 (PTX ISA, "Matrix fragments for mma.m16n8k16"), with g = lane / 4
// and t = lane % 4: A (16×16, row-major) regs a0..a3 hold (row g, cols 2t..2t+1), (row g+8, cols 2t..),
// (row g, cols 2t+8..), (row g+8, cols 2t+8..); B (16×8, k × n) regs b0, b1 hold (k rows 2t..2t+1, col g)
// and (k rows 2t+8.., col g); C/D (16×8 f32) c0..c3 hold (row g, cols 2t, 2t+1) and (row g+8, cols 2t,
// 2t+1). Two 16-bit values share a register, the lower index in the low half. A C fragment of a 16×16
// pair of tiles is therefore already the A fragment of the next product (FA2's register reuse of P).
//
// Requirements (checked in src/backend/attention.ts): each row of q, k, v and the incoming gradient is D
// contiguous 16-bit values starting on a 16-byte boundary; the outputs are contiguous.
#pragma once
#include "common.cuh"
#include "mma.cuh"

/** One struct for every flash kernel (the forward, the backward and its two helpers). */
struct FlashParams {
  const void* q;  // element (b, h, i, d) at q + b·qStrides[0] + h·qStrides[1] + i·qStrides[2] + d
  const void* k;
  const void* v;
  const void* keyMask;  // bytes, (b, j) at keyMask + b·maskStrides[0] + j·maskStrides[1]; null: none
  void* out;            // [B, H, T, D] in the dtype: written by the forward, read by the backward
  void* lse;            // [B, H, T] f32 natural log-sum-exp of the scaled, masked scores
  const void* dout;     // incoming gradient, strided like q
  void* dq;             // [B, H, T, D] in the dtype
  void* dk;             // [B, KVH, S, D] in the dtype
  void* dv;
  void* dqAccum;  // [B, H, T, D] f32, zero before the backward
  void* delta;    // [B, H, T] f32: rowsum(dO ∘ O)
  i64 dtype;
  i64 batch;
  i64 heads;
  i64 kvHeads;
  i64 queries;
  i64 keys;
  i64 headDim;
  i64 qStrides[3];
  i64 kStrides[3];
  i64 vStrides[3];
  i64 doStrides[3];
  i64 maskStrides[2];
  i64 causal;
  i64 window;  // 0: no window
  double scale;
};

#define FLASH_BLOCK 64    // query rows per forward CTA (4 warps × 16) and keys per block
#define FLASH_THREADS 128

template <bool BF16>
__device__ __forceinline__ unsigned short to_half_bits(float f) {
  return BF16 ? float_to_bf16(f) : float_to_half(f);
}
template <bool BF16>
__device__ __forceinline__ float from_half_bits(unsigned short h) {
  return BF16 ? bf16_to_float(h) : half_to_float(h);
}
/** Two values in one register, `low` in the low 16 bits. */
template <bool BF16>
__device__ __forceinline__ unsigned pack_pair(float low, float high) {
  return (unsigned)to_half_bits<BF16>(low) | ((unsigned)to_half_bits<BF16>(high) << 16);
}

__device__ __forceinline__ float negative_infinity() { return __int_as_float(0xff800000); }

/**
 * Starts copying rows row0 … row0 + 63 of a matrix of `rows` rows of D values (row stride `stride`
 * elements, 16-byte aligned) into a shared tile with rows of D + 8 values (the padding spreads ldmatrix's
 * eight row addresses over distinct banks), with cp.async: the caller commits and waits. Rows past the
 * end are written as zeros at once, so that masked products stay finite.
 */
template <int D>
__device__ __forceinline__ void load_tile(unsigned short* tile, const unsigned short* base, i64 stride, i64 row0,
                                          i64 rows) {
  constexpr int CHUNKS = D / 8;
  for (int c = threadIdx.x; c < FLASH_BLOCK * CHUNKS; c += FLASH_THREADS) {
    const int r = c / CHUNKS, x = (c % CHUNKS) * 8;
    unsigned short* destination = tile + r * (D + 8) + x;
    if (row0 + r < rows) cp_async_16(destination, base + (row0 + r) * stride + x);
    else *(Chunk16*)destination = Chunk16{0u, 0u, 0u, 0u};
  }
}

/** Whether query `row` (absolute position offset + row) may see key `key` under the causal/window rule. */
__device__ __forceinline__ bool flash_visible(const FlashParams& p, i64 offset, i64 row, i64 key) {
  if (!p.causal) return true;
  const i64 position = offset + row;
  return key <= position && (p.window <= 0 || key > position - p.window);
}

/** Marks keys k0 … k0 + 63 that exist and are not padding (threads 0 … 63 write one each). */
__device__ __forceinline__ void load_key_mask(unsigned char* visible, const FlashParams& p, i64 b, i64 k0) {
  if (threadIdx.x < FLASH_BLOCK) {
    const i64 j = k0 + threadIdx.x;
    bool ok = j < p.keys;
    if (ok && p.keyMask)
      ok = ((const unsigned char*)p.keyMask)[b * p.maskStrides[0] + j * p.maskStrides[1]] != 0;
    visible[threadIdx.x] = ok ? 1 : 0;
  }
}

#include "flash-forward.cuh"
#include "flash-backward.cuh"
