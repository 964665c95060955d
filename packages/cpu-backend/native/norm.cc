// Fused RMSNorm and LayerNorm over the last dim: one pass to accumulate (in double), one to write.
#include <algorithm>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

constexpr int64_t kGrain = int64_t{1} << 14;  // elements per thread, at least

int64_t row_grain(int64_t width) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, width)); }

}  // namespace

void rms_norm(int64_t rows, int64_t width, int64_t row_stride, const float* x, const float* weight, double eps,
              float* out, float* rstd) {
  const VectorKernels& vk = vector_kernels();
  parallel_for(rows, row_grain(width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      rstd[r] = vk.rms_norm_f32(width, x + r * row_stride, weight, eps, out + r * width);
    }
  });
}

void layer_norm(int64_t rows, int64_t width, int64_t row_stride, const float* x, const float* weight,
                const float* bias, double eps, float* out, float* mean, float* rstd) {
  const VectorKernels& vk = vector_kernels();
  parallel_for(rows, row_grain(width), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      vk.layer_norm_f32(width, x + r * row_stride, weight, bias, eps, out + r * width, mean + r, rstd + r);
    }
  });
}

}  // namespace lorakit
