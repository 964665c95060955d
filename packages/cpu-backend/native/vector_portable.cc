// The row kernels compiled for the baseline target (SSE2 on x86-64, NEON on arm64): always available.
#define LORAKIT_VECTOR_NAME "portable"
#include "vector_kernels_impl.h"

namespace lorakit {

const VectorKernels& portable_vector_kernels() { return kTable; }

}  // namespace lorakit
