// The DGEMM kernels compiled for the baseline target (SSE2 on x86-64, NEON on arm64): always available.
#define LORAKIT_DGEMM_NAME "portable"
#define LORAKIT_DGEMM_WIDTH 2
#define LORAKIT_DGEMM_MR 4
#define LORAKIT_DGEMM_NR 4
#include "dgemm_kernels_impl.h"

namespace lorakit {

const DgemmKernels& portable_dgemm_kernels() { return kTable; }

}  // namespace lorakit
