// The row kernels compiled with -mavx2 -mfma (binding.gyp), used only after the CPU check in gemm.cc.
// On other architectures this file only says that no such table exists.
#if defined(__x86_64__) || defined(_M_X64)

#define LORAKIT_VECTOR_NAME "avx2-fma"
#include "vector_kernels_impl.h"

namespace lorakit {

const VectorKernels* avx2_vector_kernels() { return &kTable; }

}  // namespace lorakit

#else

#include "vector_kernels.h"

namespace lorakit {

const VectorKernels* avx2_vector_kernels() { return nullptr; }

}  // namespace lorakit

#endif
