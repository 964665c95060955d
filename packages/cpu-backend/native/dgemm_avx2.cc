// The DGEMM kernels compiled with -mavx2 -mfma (binding.gyp), used only after the CPU check in gemm.cc:
// a 6 × 8 tile in twelve 4-double ymm accumulators. On other architectures this file only says that no
// such variant exists.
#if defined(__x86_64__) || defined(_M_X64)

#define LORAKIT_DGEMM_NAME "avx2-fma"
#define LORAKIT_DGEMM_WIDTH 4
#define LORAKIT_DGEMM_MR 6
#define LORAKIT_DGEMM_NR 8
#include "dgemm_kernels_impl.h"

namespace lorakit {

const DgemmKernels* avx2_dgemm_kernels() { return &kTable; }

}  // namespace lorakit

#else

#include "dgemm.h"

namespace lorakit {

const DgemmKernels* avx2_dgemm_kernels() { return nullptr; }

}  // namespace lorakit

#endif
