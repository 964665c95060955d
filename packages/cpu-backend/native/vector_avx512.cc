// The row kernels compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma (binding.gyp), used only
// after the CPU and OS checks in cpu_features.cc, together with the AVX-512 GEMM set. The templates are
// the same as the other tables'; the compiler vectorizes them with 16-float zmm vectors (and masked
// tails) instead of 8-float ymm ones. On other architectures this file only says that no such table exists.
#if defined(__x86_64__) || defined(_M_X64)

// GCC 12's _mm512_undefined_ps() warns under -W(maybe-)uninitialized (see kernel_avx512.cc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#define LORAKIT_VECTOR_NAME "avx512"
#include "vector_kernels_impl.h"

namespace lorakit {

const VectorKernels* avx512_vector_kernels() { return &kTable; }

}  // namespace lorakit

#else

#include "vector_kernels.h"

namespace lorakit {

const VectorKernels* avx512_vector_kernels() { return nullptr; }

}  // namespace lorakit

#endif
