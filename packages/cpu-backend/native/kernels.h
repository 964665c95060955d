// Micro-kernels and packing routines behind the GEMM driver (gemm.cc).
//
// Three implementations exist: kernel_avx512.cc (compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl
// -mfma) and kernel_avx2.cc (-mavx2 -mfma), both only on x86-64, and kernel_portable.cc (plain C++,
// compiled for the baseline target). The driver picks one set at run time (cpu_features.h), so no
// AVX-512 or AVX2 instruction executes on a CPU or OS that lacks it.
#pragma once

#include <cstdint>

namespace lorakit {

// Upper bounds of any set's register tile, for buffers sized at compile time (the driver's edge tile).
constexpr int64_t kMaxMR = 16;
constexpr int64_t kMaxNR = 64;

// A strided read-only view: element (i, j) lives at data[i * rs + j * cs].
struct ConstView {
  const float* data;
  int64_t rs;
  int64_t cs;
};

// Packed layouts (the contract between packers and micro-kernels; MR and NR are the set's):
//  - packed A block: ceil(mc / MR) micro-panels, each kc × MR floats stored as [p][i], rows past mc are 0;
//  - packed B block: ceil(nc / NR) micro-panels, each kc × NR floats stored as [p][j], columns past nc are 0.
// Packed buffers are 64-byte aligned and have kPackSlack floats of slack past their end.
constexpr int64_t kPackSlack = 64;

// C[MR × NR] = alpha · Ap · Bp + beta · C; when beta == 0, C is written without being read (so NaN or
// garbage in C does not propagate, as in BLAS).
using MicroKernel = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                             float beta);

// Packs the mc × kc block of a (a view of op(A) starting at the block's first element).
using PackA = void (*)(int64_t mc, int64_t kc, ConstView a, float* ap);
// Packs the kc × nc block of b (a view of op(B) starting at the block's first element).
using PackB = void (*)(int64_t kc, int64_t nc, ConstView b, float* bp);

// Skinny product with both operands contiguous along k:
//   C[m × n] = alpha · A[m × k] · B[n × k]ᵀ + beta · C,  A(i, p) = a[i·lda + p], B(j, p) = b[j·ldb + p].
// Used when n is small (LoRA's x · Aᵀ with r columns), where packing would cost more than it saves.
using DotKernel = void (*)(int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// A kernel set: the micro-kernel with the register tile it computes, the packers that produce its
// layouts, the skinny-product kernel, and the cache blocking that suits the tile (the driver's defaults;
// LORAKIT_GEMM_BLOCKING overrides them).
struct KernelSet {
  const char* name;
  int64_t mr;  // rows of the register tile (≤ kMaxMR)
  int64_t nr;  // columns of the register tile (≤ kMaxNR; a multiple of 16, so packed B rows are 64-byte aligned)
  int64_t mc;  // rows of a packed A block (a multiple of mr), sized for L2
  int64_t kc;  // depth of a packed slice, sized so a kc × nr micro-panel of B stays in L1
  int64_t nc;  // columns of a packed B block (a multiple of nr), sized for L3
  MicroKernel micro;
  PackA pack_a;
  PackB pack_b;
  DotKernel dot_nt;
};

// Always available.
const KernelSet& portable_kernels();

// Null when this build has no AVX2 translation unit (non-x86 targets).
const KernelSet* avx2_kernels();

// Null when this build has no AVX-512 translation unit (non-x86 targets).
const KernelSet* avx512_kernels();

// Generic packers (kernel_portable.cc) for any tile size, shared by every set for layouts without a
// dedicated fast path.
void pack_a_generic(int64_t mr, int64_t mc, int64_t kc, ConstView a, float* ap);
void pack_b_generic(int64_t nr, int64_t kc, int64_t nc, ConstView b, float* bp);

}  // namespace lorakit
