// im2col and its adjoint col2im for convolutions with up to three spatial dims (conv1d/2d/3d), float32
// and float64. Row (c, kd, kh, kw) of the columns holds, for every output position, the input element
// that kernel tap meets there, or 0 in the padding.
#include <algorithm>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

constexpr int64_t kGrain = int64_t{1} << 14;

// The output positions o in [0, out) whose input coordinate o·stride − padding + tap lies in [0, size).
void valid_range(int64_t out, int64_t stride, int64_t padding, int64_t tap, int64_t size, int64_t* lo,
                 int64_t* hi) {
  // o·stride ≥ padding − tap  and  o·stride ≤ size − 1 + padding − tap
  const int64_t first = padding - tap;
  int64_t a = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t last = size - 1 + padding - tap;
  int64_t b = last < 0 ? -1 : last / stride;
  a = std::min(a, out);
  b = std::min(b, out - 1);
  *lo = a;
  *hi = std::max(a, b + 1);
}

template <class T>
void im2col_typed(const ConvCall& g, T* out, const T* x) {
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t positions = g.out_spatial[0] * g.out_spatial[1] * g.out_spatial[2];
  const int64_t rows = g.channels * taps;
  parallel_for(g.batch * g.channels, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, taps * positions)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t unit = begin; unit < end; ++unit) {
                   const int64_t b = unit / g.channels;
                   const int64_t c = unit % g.channels;
                   const T* image = x + g.offset + b * g.strides[0] + c * g.strides[1];
                   for (int64_t t = 0; t < taps; ++t) {
                     const int64_t kd = t / (g.kernel[1] * g.kernel[2]);
                     const int64_t kh = (t / g.kernel[2]) % g.kernel[1];
                     const int64_t kw = t % g.kernel[2];
                     T* row = out + (b * rows + c * taps + t) * positions;
                     int64_t w0, w1;
                     valid_range(g.out_spatial[2], g.stride[2], g.padding[2], kw * g.dilation[2], g.spatial[2], &w0,
                                 &w1);
                     for (int64_t od = 0; od < g.out_spatial[0]; ++od) {
                       const int64_t id = od * g.stride[0] - g.padding[0] + kd * g.dilation[0];
                       for (int64_t oh = 0; oh < g.out_spatial[1]; ++oh) {
                         const int64_t ih = oh * g.stride[1] - g.padding[1] + kh * g.dilation[1];
                         T* dst = row + (od * g.out_spatial[1] + oh) * g.out_spatial[2];
                         if (id < 0 || id >= g.spatial[0] || ih < 0 || ih >= g.spatial[1]) {
                           std::fill(dst, dst + g.out_spatial[2], T(0));
                           continue;
                         }
                         const T* src = image + id * g.strides[2] + ih * g.strides[3];
                         std::fill(dst, dst + w0, T(0));
                         const int64_t step = g.stride[2] * g.strides[4];
                         const T* s = src + (w0 * g.stride[2] - g.padding[2] + kw * g.dilation[2]) * g.strides[4];
                         for (int64_t ow = w0; ow < w1; ++ow, s += step) dst[ow] = *s;
                         std::fill(dst + w1, dst + g.out_spatial[2], T(0));
                       }
                     }
                   }
                 }
               });
}

template <class T>
void col2im_typed(const ConvCall& g, T* out, const T* columns) {
  // Each (image, channel) owns its output plane, so planes run in parallel without conflicts; the taps
  // are added in the reference's order (tap by tap, position by position).
  const int64_t taps = g.kernel[0] * g.kernel[1] * g.kernel[2];
  const int64_t positions = g.out_spatial[0] * g.out_spatial[1] * g.out_spatial[2];
  const int64_t plane = g.spatial[0] * g.spatial[1] * g.spatial[2];
  parallel_for(g.batch * g.channels, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, taps * positions)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t unit = begin; unit < end; ++unit) {
                   const int64_t b = unit / g.channels;
                   const int64_t c = unit % g.channels;
                   T* image = out + unit * plane;
                   for (int64_t t = 0; t < taps; ++t) {
                     const int64_t kd = t / (g.kernel[1] * g.kernel[2]);
                     const int64_t kh = (t / g.kernel[2]) % g.kernel[1];
                     const int64_t kw = t % g.kernel[2];
                     const T* row = columns + g.offset + b * g.strides[0] + (c * taps + t) * g.strides[1];
                     int64_t w0, w1;
                     valid_range(g.out_spatial[2], g.stride[2], g.padding[2], kw * g.dilation[2], g.spatial[2], &w0,
                                 &w1);
                     for (int64_t od = 0; od < g.out_spatial[0]; ++od) {
                       const int64_t id = od * g.stride[0] - g.padding[0] + kd * g.dilation[0];
                       if (id < 0 || id >= g.spatial[0]) continue;
                       for (int64_t oh = 0; oh < g.out_spatial[1]; ++oh) {
                         const int64_t ih = oh * g.stride[1] - g.padding[1] + kh * g.dilation[1];
                         if (ih < 0 || ih >= g.spatial[1]) continue;
                         T* dst = image + (id * g.spatial[1] + ih) * g.spatial[2];
                         const int64_t column0 = (od * g.out_spatial[1] + oh) * g.out_spatial[2];
                         for (int64_t ow = w0; ow < w1; ++ow) {
                           const int64_t iw = ow * g.stride[2] - g.padding[2] + kw * g.dilation[2];
                           dst[iw] += row[(column0 + ow) * g.strides[2]];
                         }
                       }
                     }
                   }
                 }
               });
}

}  // namespace

void im2col(const ConvCall& call, const Operand& out, const Operand& x) {
  if (x.dtype == Dtype::kFloat32) {
    return im2col_typed(call, static_cast<float*>(out.data), static_cast<const float*>(x.data));
  }
  return im2col_typed(call, static_cast<double*>(out.data), static_cast<const double*>(x.data));
}

void col2im(const ConvCall& call, const Operand& out, const Operand& columns) {
  if (columns.dtype == Dtype::kFloat32) {
    return col2im_typed(call, static_cast<float*>(out.data), static_cast<const float*>(columns.data));
  }
  return col2im_typed(call, static_cast<double*>(out.data), static_cast<const double*>(columns.data));
}

}  // namespace lorakit
