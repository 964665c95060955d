// Tensor-core primitives through inline PTX (no CUDA header): ldmatrix, mma.sync m16n8k16 with f32
// accumulation, cp.async, ex2.approx, and the dynamic shared memory of a kernel. Kept apart from the kernels that
// use them so that a host emulation of a warp can stand in for this one file (see test/emulator/).
#pragma once

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

/**
 * Starts copying 16 bytes from global to shared memory without waiting (cp.async, sm_80); the copies a
 * thread issued are complete after cp_async_commit() and cp_async_wait_all(), and visible to the other
 * threads of the block after a __syncthreads() that follows.
 */
__device__ __forceinline__ void cp_async_16(unsigned short* shared, const unsigned short* global) {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(shared_address(shared)), "l"(global) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
__device__ __forceinline__ void cp_async_wait_all() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group 0;" ::: "memory");
#endif
}

/** The kernel's dynamic shared memory, 16-byte aligned. */
__device__ __forceinline__ unsigned short* dynamic_shared() {
  extern __shared__ Chunk16 dynamic_shared_memory[];
  return (unsigned short*)dynamic_shared_memory;
}

/** 2^x (ex2.approx: 2 ulp; 2^−∞ = +0). */
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}
