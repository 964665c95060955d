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

struct alignas(16) Chunk16 {
  unsigned x, y, z, w;
};

__device__ __forceinline__ unsigned shared_address(const void* pointer) {
  unsigned address;
  asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(address) : "l"(pointer));
  return address;
}

/** Four 8×8 matrices of 16-bit values; lanes 8i … 8i+7 give the row addresses of matrix i. */
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const unsigned short* pointer) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(pointer))
               : "memory");
}
/** The same, each matrix transposed on the way (a lane gets two values of one column). */
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const unsigned short* pointer) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(shared_address(pointer))
               : "memory");
}

/** c += a·b for a 16×16 A fragment and a 16×8 B fragment (b0, b1), f32 accumulators. */
template <bool BF16>
__device__ __forceinline__ void mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
  if (BF16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
#endif
}

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

/** 2^x (ex2.approx: 2 ulp; 2^−∞ = +0). */
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float negative_infinity() { return __int_as_float(0xff800000); }

/**
 * Rows row0 … row0 + 63 of a matrix of `rows` rows of D values (row stride `stride` elements, 16-byte
 * aligned) into a shared tile with rows of D + 8 values (the padding spreads ldmatrix's eight row
 * addresses over distinct banks). Rows past the end are zero, so that masked products stay finite.
 */
template <int D>
__device__ __forceinline__ void load_tile(unsigned short* tile, const unsigned short* base, i64 stride, i64 row0,
                                          i64 rows) {
  constexpr int CHUNKS = D / 8;
  for (int c = threadIdx.x; c < FLASH_BLOCK * CHUNKS; c += FLASH_THREADS) {
    const int r = c / CHUNKS, x = (c % CHUNKS) * 8;
    Chunk16 value = {0u, 0u, 0u, 0u};
    if (row0 + r < rows) value = *(const Chunk16*)(base + (row0 + r) * stride + x);
    *(Chunk16*)(tile + r * (D + 8) + x) = value;
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
