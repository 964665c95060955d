// The attention softmax and its backward, row by row over scores [batch, heads, queries, keys] (rows
// contiguous): softmax(scale·x + bias) over the keys a query may see, and scale·p∘(g − Σ g∘p).
#include <algorithm>
#include <vector>

#include "parallel.h"
#include "tensor_ops.h"
#include "vector_kernels.h"

namespace lorakit {
namespace {

constexpr int64_t kGrain = int64_t{1} << 14;  // elements per thread, at least

int64_t row_grain(int64_t width) { return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, width)); }

// Σ a·b in float with eight independent partial sums (vectorizes; rows are short).
float dot(int64_t n, const float* a, const float* b) {
  float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    for (int l = 0; l < 8; ++l) partial[l] += a[j + l] * b[j + l];
  }
  float sum = 0;
  for (; j < n; ++j) sum += a[j] * b[j];
  for (int l = 0; l < 8; ++l) sum += partial[l];
  return sum;
}

}  // namespace

void attention_softmax(const AttentionRows& rows, const float* x, const float* bias, float scale, bool causal,
                       float* out) {
  const int64_t keys = rows.keys;
  const int64_t queries = rows.queries;
  const int64_t total = rows.batch * rows.heads * queries;
  const VectorKernels& vk = vector_kernels();
  parallel_for(total, row_grain(keys), [&](int64_t begin, int64_t end) {
    std::vector<float> z(static_cast<size_t>(keys));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % queries;
      const int64_t bh = r / queries;
      const int64_t limit = causal ? std::min(keys, i + keys - queries + 1) : keys;
      const float* xr = x + r * keys;
      float* o = out + r * keys;
      if (bias != nullptr) {
        const float* br = bias + (bh / rows.heads) * rows.bias_batch_stride + (bh % rows.heads) * rows.bias_head_stride +
                          i * rows.bias_query_stride;
        for (int64_t j = 0; j < limit; ++j) z[j] = scale * xr[j] + br[j];
      } else {
        for (int64_t j = 0; j < limit; ++j) z[j] = scale * xr[j];
      }
      vk.softmax_f32(limit, z.data(), o, false);
      std::fill(o + limit, o + keys, 0.0f);
    }
  });
}

void attention_softmax_backward(int64_t rows, int64_t keys, const float* grad, const float* probs, float scale,
                                float* out) {
  parallel_for(rows, row_grain(keys), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* g = grad + r * keys;
      const float* p = probs + r * keys;
      float* o = out + r * keys;
      const float d = dot(keys, g, p);
      for (int64_t j = 0; j < keys; ++j) o[j] = scale * p[j] * (g[j] - d);
    }
  });
}

}  // namespace lorakit
