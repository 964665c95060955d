// Single-precision GEMM on row-major matrices:
//   C[m × n] = alpha · op(A) · op(B) + beta · C,  op(X) = X or Xᵀ.
// Arguments are assumed valid (the TypeScript layer checks dims, leading dimensions and buffer lengths).
#pragma once

#include <cstdint>

namespace lorakit {

struct SgemmArgs {
  bool trans_a;
  bool trans_b;
  int64_t m;
  int64_t n;
  int64_t k;
  float alpha;
  const float* a;  // op(A) is m × k; A is m × k (lda >= k) or, transposed, k × m (lda >= m)
  int64_t lda;
  const float* b;  // op(B) is k × n; B is k × n (ldb >= n) or, transposed, n × k (ldb >= k)
  int64_t ldb;
  float beta;  // beta == 0: C is not read (NaN in C does not propagate)
  float* c;
  int64_t ldc;
};

void sgemm(const SgemmArgs& args);

// batch products; matrix i uses a + i·stride_a, b + i·stride_b, c + i·stride_c. A stride of 0 reuses
// (broadcasts) one A or B for every product; C blocks must not overlap.
void sgemm_strided_batched(const SgemmArgs& args, int64_t batch, int64_t stride_a, int64_t stride_b,
                           int64_t stride_c);

enum class KernelChoice { kAuto, kPortable, kAvx2Fma, kAvx512 };

// Selects the kernel set; returns false (and keeps the current one) when the set asked for cannot run
// here. kAuto picks avx512, then avx2-fma, then portable, by what the CPU and OS support, unless
// LORAKIT_CPU_KERNEL names a set (avx512, avx2, portable).
bool set_kernel(KernelChoice choice);
const char* kernel_name();
bool avx2_fma_usable();
bool avx512_usable();

int num_threads();
void set_num_threads(int n);

}  // namespace lorakit
