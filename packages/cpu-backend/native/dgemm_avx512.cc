// The DGEMM kernels compiled with -mavx512f … -mprefer-vector-width=512 (binding.gyp), used only after the
// CPU and OS checks in cpu_features.cc: a 12 × 16 tile in twenty-four 8-double zmm accumulators. On other
// architectures this file only says that no such variant exists.
#if defined(__x86_64__) || defined(_M_X64)

#define LORAKIT_DGEMM_NAME "avx512"
#define LORAKIT_DGEMM_WIDTH 8
#define LORAKIT_DGEMM_MR 12
#define LORAKIT_DGEMM_NR 16
#include "dgemm_kernels_impl.h"

namespace lorakit {

const DgemmKernels* avx512_dgemm_kernels() { return &kTable; }

}  // namespace lorakit

#else

#include "dgemm.h"

namespace lorakit {

const DgemmKernels* avx512_dgemm_kernels() { return nullptr; }

}  // namespace lorakit

#endif
