// Double-precision GEMM on row-major matrices, the float64 counterpart of sgemm (gemm.h):
//   C[m × n] = alpha · op(A) · op(B) + beta · C,  op(X) = X or Xᵀ.
// Arguments are assumed valid (src/dgemm.ts checks dims, leading dimensions and buffer lengths).
//
// The driver (dgemm.cc) packs blocks of op(A) and op(B) into register-tile panels and splits the tiles of
// C across the thread pool; the micro-kernel is one template (dgemm_kernels_impl.h) compiled three times,
// for the baseline target, AVX2/FMA and AVX-512, and picked together with the SGEMM kernel set.
#pragma once

#include <cstdint>

namespace lorakit {

struct DgemmArgs {
  bool trans_a;
  bool trans_b;
  int64_t m;
  int64_t n;
  int64_t k;
  double alpha;
  const double* a;  // op(A) is m × k; A is m × k (lda >= k) or, transposed, k × m (lda >= m)
  int64_t lda;
  const double* b;  // op(B) is k × n; B is k × n (ldb >= n) or, transposed, n × k (ldb >= k)
  int64_t ldb;
  double beta;  // beta == 0: C is not read (NaN in C does not propagate)
  double* c;
  int64_t ldc;
};

void dgemm(const DgemmArgs& args);

// batch products; matrix i uses a + i·stride_a, b + i·stride_b, c + i·stride_c. A stride of 0 reuses
// (broadcasts) one A or B for every product; C blocks must not overlap.
void dgemm_strided_batched(const DgemmArgs& args, int64_t batch, int64_t stride_a, int64_t stride_b,
                           int64_t stride_c);

// One compiled variant of the packing routines and the micro-kernel. Matrix element (i, j) of a source is
// at data[i · rs + j · cs].
struct DgemmKernels {
  const char* name;
  int64_t mr, nr;      // register tile
  int64_t mc, kc, nc;  // cache blocking
  // Packs the mc × kc block of op(A) into ceil(mc / mr) panels of kc × mr (zero padded rows).
  void (*pack_a)(int64_t mc, int64_t kc, const double* a, int64_t rs, int64_t cs, double* out);
  // Packs the kc × nc block of op(B) into ceil(nc / nr) panels of kc × nr (zero padded columns).
  void (*pack_b)(int64_t kc, int64_t nc, const double* b, int64_t rs, int64_t cs, double* out);
  // C (rows × cols, at most mr × nr, row stride ldc) = alpha · Ap · Bp + beta · C; beta == 0 does not
  // read C.
  void (*micro)(int64_t kc, const double* ap, const double* bp, int64_t rows, int64_t cols, double alpha,
                double beta, double* c, int64_t ldc);
};

const DgemmKernels& portable_dgemm_kernels();
// nullptr when this build has no such variant (not x86-64).
const DgemmKernels* avx2_dgemm_kernels();
const DgemmKernels* avx512_dgemm_kernels();
// The variant matching the current SGEMM kernel set (gemm.cc), so LORAKIT_CPU_KERNEL and setKernel()
// choose both.
const DgemmKernels& dgemm_kernels();

}  // namespace lorakit
