// Fused rotary embedding and SwiGLU (src/backend/fused-elementwise.ts): the rows or elements of a
// coalesced layout split across threads, each handed to a row kernel of vector_kernels.h.
#include <algorithm>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

// Elements per thread, at least: rotary is a few multiply-adds per element (memory-bound), SwiGLU
// evaluates an exponential per element.
constexpr int64_t kCheapGrain = int64_t{1} << 15;
constexpr int64_t kCostlyGrain = int64_t{1} << 12;

}  // namespace

void rotary(const StridedCall& rows, int64_t half, const int64_t* last_strides, float* out, const float* x,
            const float* cos, const float* sin, bool transposed) {
  const VectorKernels& vk = vector_kernels();
  const int64_t grain = std::max<int64_t>(1, kCheapGrain / std::max<int64_t>(1, 2 * half));
  parallel_for(rows.layout.size(), grain, [&](int64_t begin, int64_t end) {
    for_each_row<4>(rows.layout, rows.offsets, begin, end, [&](const int64_t* o, int64_t n, const int64_t* s) {
      for (int64_t r = 0; r < n; ++r) {
        vk.rotary_f32(half, x + o[1] + r * s[1], last_strides[0], cos + o[2] + r * s[2], last_strides[1],
                      sin + o[3] + r * s[3], last_strides[2], out + o[0] + r * s[0], transposed);
      }
    });
  });
}

void swiglu(const StridedCall& call, float* out, const float* gate, const float* up) {
  const VectorKernels& vk = vector_kernels();
  parallel_for(call.layout.size(), kCostlyGrain, [&](int64_t begin, int64_t end) {
    for_each_row<3>(call.layout, call.offsets, begin, end, [&](const int64_t* o, int64_t n, const int64_t* s) {
      vk.swiglu_f32(n, gate + o[1], s[1], up + o[2], s[2], out + o[0]);
    });
  });
}

void swiglu_backward(const StridedCall& call, float* dgate, float* dup, const float* dy, const float* gate,
                     const float* up) {
  const VectorKernels& vk = vector_kernels();
  parallel_for(call.layout.size(), kCostlyGrain, [&](int64_t begin, int64_t end) {
    for_each_row<4>(call.layout, call.offsets, begin, end, [&](const int64_t* o, int64_t n, const int64_t* s) {
      vk.swiglu_backward_f32(n, dy + o[1], s[1], gate + o[2], s[2], up + o[3], s[3],
                             dgate ? dgate + o[0] : nullptr, dup ? dup + o[0] : nullptr);
    });
  });
}

}  // namespace lorakit
