// Element types of the JavaScript backend's storage, which the cpu backend shares: float32 in a
// Float32Array, float64 and int64 in a Float64Array (int64 values are exact integers up to 2⁵³), int32 in
// an Int32Array, bool in a Uint8Array. float16/bfloat16 never reach the native layer.
#pragma once

#include <cmath>
#include <cstdint>

namespace lorakit {

// The order is the contract with src/backend/dtype-codes.ts.
enum class Dtype : int32_t { kFloat32, kFloat64, kInt32, kInt64, kBool };

inline int element_size(Dtype d) {
  switch (d) {
    case Dtype::kFloat32:
    case Dtype::kInt32:
      return 4;
    case Dtype::kFloat64:
    case Dtype::kInt64:
      return 8;
    case Dtype::kBool:
      return 1;
  }
  return 1;
}

// A typed array's element pointer plus the element offset of the view.
struct Operand {
  Dtype dtype;
  void* data;
};

// ECMAScript ToInt32 / ToUint8: what storing a number into an Int32Array / Uint8Array does (NaN and ±∞
// give 0, everything else truncates and wraps).
inline int32_t js_to_int32(double v) {
  if (!std::isfinite(v)) return 0;
  double t = std::trunc(v);
  if (t >= -2147483648.0 && t <= 2147483647.0) return static_cast<int32_t>(t);
  t = std::fmod(t, 4294967296.0);
  if (t < 0) t += 4294967296.0;
  return static_cast<int32_t>(static_cast<uint32_t>(t));
}

inline uint8_t js_to_uint8(double v) {
  if (!std::isfinite(v)) return 0;
  double t = std::trunc(v);
  if (t >= 0.0 && t <= 255.0) return static_cast<uint8_t>(t);
  t = std::fmod(t, 256.0);
  if (t < 0) t += 256.0;
  return static_cast<uint8_t>(t);
}

// Reads n elements at element offsets offset, offset + stride, … as doubles.
inline void load_doubles(const Operand& x, int64_t offset, int64_t stride, int64_t n, double* out) {
  switch (x.dtype) {
    case Dtype::kFloat32: {
      const float* p = static_cast<const float*>(x.data) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i * stride]);
      return;
    }
    case Dtype::kFloat64:
    case Dtype::kInt64: {
      const double* p = static_cast<const double*>(x.data) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = p[i * stride];
      return;
    }
    case Dtype::kInt32: {
      const int32_t* p = static_cast<const int32_t*>(x.data) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i * stride]);
      return;
    }
    case Dtype::kBool: {
      const uint8_t* p = static_cast<const uint8_t*>(x.data) + offset;
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<double>(p[i * stride]);
      return;
    }
  }
}

// Writes n doubles. `cast` applies the reference backend's conversion for copies and assignments
// (int64 truncates toward zero, bool is `v != 0`); without it values are stored as a typed array stores
// them (the results of arithmetic ops).
inline void store_doubles(const Operand& out, int64_t offset, int64_t stride, int64_t n, const double* in,
                          bool cast) {
  switch (out.dtype) {
    case Dtype::kFloat32: {
      float* p = static_cast<float*>(out.data) + offset;
      for (int64_t i = 0; i < n; ++i) p[i * stride] = static_cast<float>(in[i]);
      return;
    }
    case Dtype::kFloat64: {
      double* p = static_cast<double*>(out.data) + offset;
      for (int64_t i = 0; i < n; ++i) p[i * stride] = in[i];
      return;
    }
    case Dtype::kInt64: {
      double* p = static_cast<double*>(out.data) + offset;
      if (cast) {
        for (int64_t i = 0; i < n; ++i) p[i * stride] = std::trunc(in[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) p[i * stride] = in[i];
      }
      return;
    }
    case Dtype::kInt32: {
      int32_t* p = static_cast<int32_t*>(out.data) + offset;
      for (int64_t i = 0; i < n; ++i) p[i * stride] = js_to_int32(in[i]);
      return;
    }
    case Dtype::kBool: {
      uint8_t* p = static_cast<uint8_t*>(out.data) + offset;
      if (cast) {
        for (int64_t i = 0; i < n; ++i) p[i * stride] = in[i] != 0.0 ? 1 : 0;  // NaN != 0 is true, as in JS
      } else {
        for (int64_t i = 0; i < n; ++i) p[i * stride] = js_to_uint8(in[i]);
      }
      return;
    }
  }
}

}  // namespace lorakit
