// The gradient of softmax cross-entropy with respect to the scores, row by row: exp(log p)·g, then −g at
// the target — the composed ops' values (the same exp kernel, product and subtraction) in one pass over
// rows that stay in cache between the three steps.
#include <algorithm>

#include "parallel.h"
#include "tensor_ops.h"
#include "vector_kernels.h"

namespace lorakit {

void softmax_cross_entropy_backward(int64_t rows, int64_t classes, const float* log_probs, int64_t row_stride,
                                    const float* grad, int64_t grad_stride, const double* target,
                                    int64_t target_stride, float* out) {
  const VectorKernels& vk = vector_kernels();
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(1, classes));
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* o = out + r * classes;
      const float g = grad[r * grad_stride];
      vk.unary_f32(UnaryOp::kExp, classes, log_probs + r * row_stride, 1, o, nullptr);
      vk.binary_f32(BinaryOp::kMul, classes, o, 1, &g, 0, o);
      const int64_t t = static_cast<int64_t>(target[r * target_stride]);
      o[t] = o[t] - g;
    }
  });
}

}  // namespace lorakit
