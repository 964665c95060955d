// The row kernels of vector_kernels.h as templates, included by exactly two translation units:
// vector_portable.cc (baseline target) and vector_avx2.cc (-mavx2 -mfma). Everything here has internal
// linkage (an unnamed namespace), so the two copies never merge at link time and the portable table
// cannot end up calling AVX2 code. The loops are written for GCC/Clang's auto-vectorizer: contiguous
// fast paths, branch-free bodies (selects, not branches) and several independent accumulators for
// reductions, because floating-point sums are not reassociated without -ffast-math.
//
// Semantics follow the JavaScript reference backend (packages/tensor/src/backends/js): NaN handling of
// relu, sign, maximum, minimum, max and min; round half to even; JavaScript's `**` for pow.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "vector_kernels.h"

namespace lorakit {
namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

// ---------------------------------------------------------------------------------------------------------
// Float32 math: branch-free approximations that vectorize.

inline float float_from_bits(int32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// exp(x) = 2ⁿ · exp(r), n = round(x / ln 2), r = x − n·ln 2 with ln 2 split in two (Cody & Waite), exp(r)
// by Cephes' expf polynomial on |r| ≤ ln2/2: within 2 ulp. 2ⁿ is applied as two halves so that n = 128
// (x near log(FLT_MAX)) and the subnormal range (x down to −104) come out right.
inline float exp_f32(float x) {
  constexpr float kHi = 88.72283935546875f;
  constexpr float kLo = -104.0f;
  constexpr float kRound = 12582912.0f;  // 1.5 · 2²³: adding and subtracting it rounds to an integer
  float xc = x > kHi ? kHi : x;
  xc = xc < kLo ? kLo : xc;
  const float n = (xc * 1.44269504088896341f + kRound) - kRound;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  float y = p * float_from_bits((n1 + 127) << 23) * float_from_bits((n2 + 127) << 23);
  y = x > kHi ? std::numeric_limits<float>::infinity() : y;
  y = x < kLo ? 0.0f : y;
  return y;  // NaN in, NaN out: every comparison above is false and the arithmetic carries it
}

// tanh: Cephes' odd polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) with the sign restored beyond.
inline float tanh_f32(float x) {
  const float ax = std::fabs(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float e = exp_f32(2.0f * ax);
  float large = 1.0f - 2.0f / (e + 1.0f);
  large = x < 0.0f ? -large : large;
  return ax < 0.625f ? small : large;
}

// 1/(1 + e^{−x}), computed from e^{−|x|} so that nothing overflows.
inline float sigmoid_f32(float x) {
  const float e = exp_f32(-std::fabs(x));
  const float s = 1.0f / (1.0f + e);
  return x >= 0.0f ? s : e * s;  // NaN: the comparison is false and e·s is NaN
}

// erfc(z) for z ≥ 0 with fractional error below 1.2e-7 everywhere (the Chebyshev fit of Numerical
// Recipes, 2nd ed., §6.2, `erfcc`).
inline float erfc_nonnegative_f32(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * exp_f32(p - z * z);
}

// erf: the Maclaurin series for |x| < 0.5 (keeps the relative accuracy near 0), 1 − erfc beyond.
inline float erf_f32(float x) {
  const float ax = std::fabs(x);
  const float z = x * x;
  float p = -1.0f / 1320.0f;
  p = p * z + 1.0f / 216.0f;
  p = p * z - 1.0f / 42.0f;
  p = p * z + 1.0f / 10.0f;
  p = p * z - 1.0f / 3.0f;
  const float small = static_cast<float>(kTwoOverSqrtPi) * (x + x * z * p);
  float large = 1.0f - erfc_nonnegative_f32(ax);
  large = x < 0.0f ? -large : large;
  return ax < 0.5f ? small : large;
}

// gelu(x) = x/2 · (1 + erf(x/√2)) = x/2 · (2 − erfc(x/√2)) for x ≥ 0 and x/2 · erfc(|x|/√2) below:
// no cancellation where gelu is tiny.
inline float gelu_f32(float x) {
  const float e = erfc_nonnegative_f32(std::fabs(x) * static_cast<float>(kSqrt1_2));
  return 0.5f * x * (x >= 0.0f ? 2.0f - e : e);
}

// gelu_tanh(x) = x/2 · (1 + tanh(u)) = x · sigmoid(2u), u = √(2/π)·(x + 0.044715·x³).
inline float gelu_tanh_f32(float x) {
  const float u = static_cast<float>(kSqrt2OverPi) * (x + 0.044715f * x * x * x);
  return x * sigmoid_f32(2.0f * u);
}

// ---------------------------------------------------------------------------------------------------------
// Float64 math: the C library, as the JavaScript reference uses Math.* in double.

inline double sigmoid_f64(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// JavaScript's `**`: NaN exponents and (±1)^±∞ give NaN, where C's pow gives 1.
inline double js_pow(double a, double b) {
  if (std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(b) && std::fabs(a) == 1.0) return std::numeric_limits<double>::quiet_NaN();
  return std::pow(a, b);
}

// ---------------------------------------------------------------------------------------------------------
// Per-type dispatch of the math above.

template <class T>
struct Math;

template <>
struct Math<float> {
  static float exp(float x) { return exp_f32(x); }
  static float tanh(float x) { return tanh_f32(x); }
  static float sigmoid(float x) { return sigmoid_f32(x); }
  static float silu(float x) { return x * sigmoid_f32(x); }
  static float gelu(float x) { return gelu_f32(x); }
  static float gelu_tanh(float x) { return gelu_tanh_f32(x); }
  static float erf(float x) { return erf_f32(x); }
  // Rare in training: through double, as the reference does.
  static float log(float x) { return static_cast<float>(std::log(static_cast<double>(x))); }
  static float sin(float x) { return static_cast<float>(std::sin(static_cast<double>(x))); }
  static float cos(float x) { return static_cast<float>(std::cos(static_cast<double>(x))); }
  static float pow(float a, float b) {
    return static_cast<float>(js_pow(static_cast<double>(a), static_cast<double>(b)));
  }
};

template <>
struct Math<double> {
  static double exp(double x) { return std::exp(x); }
  static double tanh(double x) { return std::tanh(x); }
  static double sigmoid(double x) { return sigmoid_f64(x); }
  static double silu(double x) { return x * sigmoid_f64(x); }
  static double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x * kSqrt1_2)); }
  static double gelu_tanh(double x) {
    return 0.5 * x * (1.0 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
  }
  static double erf(double x) { return std::erf(x); }
  static double log(double x) { return std::log(x); }
  static double sin(double x) { return std::sin(x); }
  static double cos(double x) { return std::cos(x); }
  static double pow(double a, double b) { return js_pow(a, b); }
};

// ---------------------------------------------------------------------------------------------------------
// Elementwise maps. Contiguous operands get their own loop so that the vectorizer sees unit strides.

template <class T, class U, class F>
inline void map1(int64_t n, const T* x, int64_t sx, U* out, F f) {
  if (sx == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  } else if (sx == 0) {
    const U v = f(x[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i * sx]);
  }
}

template <class T, class U, class F>
inline void map2(int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, U* out, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T y = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], y);
  } else if (sa == 0 && sb == 1) {
    const T x = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(x, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class T>
inline T round_half_even(T v) {
  return std::nearbyint(v);  // the default rounding mode rounds halves to even, as PyTorch does
}

template <class T>
void unary_row(UnaryOp op, int64_t n, const T* x, int64_t sx, T* out, const double* params) {
  using M = Math<T>;
  switch (op) {
    case UnaryOp::kNeg:
      return map1(n, x, sx, out, [](T v) { return -v; });
    case UnaryOp::kAbs:
      return map1(n, x, sx, out, [](T v) { return std::fabs(v); });
    case UnaryOp::kExp:
      return map1(n, x, sx, out, [](T v) { return M::exp(v); });
    case UnaryOp::kLog:
      return map1(n, x, sx, out, [](T v) { return M::log(v); });
    case UnaryOp::kSqrt:
      return map1(n, x, sx, out, [](T v) { return std::sqrt(v); });
    case UnaryOp::kRsqrt:
      return map1(n, x, sx, out, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::kSin:
      return map1(n, x, sx, out, [](T v) { return M::sin(v); });
    case UnaryOp::kCos:
      return map1(n, x, sx, out, [](T v) { return M::cos(v); });
    case UnaryOp::kTanh:
      return map1(n, x, sx, out, [](T v) { return M::tanh(v); });
    case UnaryOp::kSigmoid:
      return map1(n, x, sx, out, [](T v) { return M::sigmoid(v); });
    case UnaryOp::kRelu:
      return map1(n, x, sx, out, [](T v) { return v > T(0) ? v : (v != v ? v : T(0)); });
    case UnaryOp::kSilu:
      return map1(n, x, sx, out, [](T v) { return M::silu(v); });
    case UnaryOp::kGelu:
      return map1(n, x, sx, out, [](T v) { return M::gelu(v); });
    case UnaryOp::kGeluTanh:
      return map1(n, x, sx, out, [](T v) { return M::gelu_tanh(v); });
    case UnaryOp::kErf:
      return map1(n, x, sx, out, [](T v) { return M::erf(v); });
    case UnaryOp::kSign:
      return map1(n, x, sx, out, [](T v) { return v > T(0) ? T(1) : (v < T(0) ? T(-1) : (v != v ? v : T(0))); });
    case UnaryOp::kReciprocal:
      return map1(n, x, sx, out, [](T v) { return T(1) / v; });
    case UnaryOp::kSquare:
      return map1(n, x, sx, out, [](T v) { return v * v; });
    case UnaryOp::kFloor:
      return map1(n, x, sx, out, [](T v) { return std::floor(v); });
    case UnaryOp::kCeil:
      return map1(n, x, sx, out, [](T v) { return std::ceil(v); });
    case UnaryOp::kRound:
      return map1(n, x, sx, out, [](T v) { return round_half_even(v); });
    case UnaryOp::kPowScalar: {
      const double p = params[0];
      if (p == 2.0) return map1(n, x, sx, out, [](T v) { return v * v; });
      if (p == 0.5) return map1(n, x, sx, out, [](T v) { return std::sqrt(v); });
      if (p == 1.0) return map1(n, x, sx, out, [](T v) { return v; });
      const T exponent = static_cast<T>(p);
      if (static_cast<double>(exponent) == p) {
        return map1(n, x, sx, out, [exponent](T v) { return M::pow(v, exponent); });
      }
      return map1(n, x, sx, out, [p](T v) { return static_cast<T>(js_pow(static_cast<double>(v), p)); });
    }
    case UnaryOp::kClamp: {
      // Bounds are compared in double, as the reference does; a float32 bound is rounded only on output.
      const double lo = params[0];
      const double hi = params[1];
      return map1(n, x, sx, out, [lo, hi](T v) {
        const double d = static_cast<double>(v);
        return static_cast<T>(d < lo ? lo : (d > hi ? hi : d));
      });
    }
    default:
      return;  // predicates go through predicate_row
  }
}

template <class T>
void predicate_row(UnaryOp op, int64_t n, const T* x, int64_t sx, uint8_t* out) {
  switch (op) {
    case UnaryOp::kNot:
      return map1(n, x, sx, out, [](T v) { return static_cast<uint8_t>(v == T(0)); });
    case UnaryOp::kIsnan:
      return map1(n, x, sx, out, [](T v) { return static_cast<uint8_t>(v != v); });
    case UnaryOp::kIsinf:
      return map1(n, x, sx, out, [](T v) { return static_cast<uint8_t>(std::fabs(v) == std::numeric_limits<T>::infinity()); });
    default:
      return;
  }
}

template <class T>
void binary_row(BinaryOp op, int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, T* out) {
  switch (op) {
    case BinaryOp::kAdd:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x + y; });
    case BinaryOp::kSub:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x - y; });
    case BinaryOp::kMul:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x * y; });
    case BinaryOp::kDiv:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x / y; });
    case BinaryOp::kPow:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return Math<T>::pow(x, y); });
    case BinaryOp::kMaximum:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x != x ? x : (y != y ? y : (x > y ? x : y)); });
    case BinaryOp::kMinimum:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return x != x ? x : (y != y ? y : (x < y ? x : y)); });
    default:
      return;  // comparisons go through compare_row
  }
}

template <class T>
void compare_row(BinaryOp op, int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, uint8_t* out) {
  using B = uint8_t;
  switch (op) {
    case BinaryOp::kEq:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x == y); });
    case BinaryOp::kNe:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x != y); });
    case BinaryOp::kLt:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x < y); });
    case BinaryOp::kLe:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x <= y); });
    case BinaryOp::kGt:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x > y); });
    case BinaryOp::kGe:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>(x >= y); });
    case BinaryOp::kAnd:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>((x != T(0)) & (y != T(0))); });
    case BinaryOp::kOr:
      return map2(n, a, sa, b, sb, out, [](T x, T y) { return static_cast<B>((x != T(0)) | (y != T(0))); });
    default:
      return;
  }
}

template <class T>
void where_row(int64_t n, const uint8_t* c, int64_t sc, const T* a, int64_t sa, const T* b, int64_t sb, T* out) {
  if (sc == 1 && sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = c[i] ? a[i] : b[i];
  } else if (sc == 1 && sa == 0 && sb == 1) {
    const T x = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = c[i] ? x : b[i];
  } else if (sc == 1 && sa == 1 && sb == 0) {
    const T y = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = c[i] ? a[i] : y;
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = c[i * sc] ? a[i * sa] : b[i * sb];
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reductions. Eight independent partial results per row: the vectorizer keeps them in two or four
// registers without reassociating any single chain.

constexpr int kLanes = 8;

template <class T>
void reduce_row(ReduceOp op, int64_t n, const T* x, int64_t sx, double* acc, bool* nan) {
  double part[kLanes];
  int64_t i = 0;
  switch (op) {
    case ReduceOp::kSum: {
      for (double& p : part) p = 0.0;
      if (sx == 1) {
        for (; i + kLanes <= n; i += kLanes) {
          for (int l = 0; l < kLanes; ++l) part[l] += static_cast<double>(x[i + l]);
        }
      }
      double s = *acc;
      for (double p : part) s += p;
      for (; i < n; ++i) s += static_cast<double>(x[i * sx]);
      *acc = s;
      return;
    }
    case ReduceOp::kProd: {
      double s = *acc;
      for (; i < n; ++i) s *= static_cast<double>(x[i * sx]);
      *acc = s;
      return;
    }
    case ReduceOp::kMax:
    case ReduceOp::kMin: {
      const bool is_max = op == ReduceOp::kMax;
      T best[kLanes];
      uint8_t saw[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (T& b : best) b = static_cast<T>(*acc);
      if (sx == 1) {
        if (is_max) {
          for (; i + kLanes <= n; i += kLanes) {
            for (int l = 0; l < kLanes; ++l) {
              const T v = x[i + l];
              best[l] = v > best[l] ? v : best[l];
              saw[l] |= static_cast<uint8_t>(v != v);
            }
          }
        } else {
          for (; i + kLanes <= n; i += kLanes) {
            for (int l = 0; l < kLanes; ++l) {
              const T v = x[i + l];
              best[l] = v < best[l] ? v : best[l];
              saw[l] |= static_cast<uint8_t>(v != v);
            }
          }
        }
      }
      double m = *acc;
      bool any_nan = *nan;
      for (int l = 0; l < kLanes; ++l) {
        const double v = static_cast<double>(best[l]);
        m = is_max ? (v > m ? v : m) : (v < m ? v : m);
        any_nan = any_nan || saw[l] != 0;
      }
      for (; i < n; ++i) {
        const double v = static_cast<double>(x[i * sx]);
        m = is_max ? (v > m ? v : m) : (v < m ? v : m);
        any_nan = any_nan || v != v;
      }
      *acc = m;
      *nan = any_nan;
      return;
    }
    default:
      return;
  }
}

template <class T>
void accumulate_row(ReduceOp op, int64_t n, const T* x, double* acc, uint8_t* nan) {
  switch (op) {
    case ReduceOp::kSum:
      for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<double>(x[j]);
      return;
    case ReduceOp::kProd:
      for (int64_t j = 0; j < n; ++j) acc[j] *= static_cast<double>(x[j]);
      return;
    case ReduceOp::kMax:
      for (int64_t j = 0; j < n; ++j) {
        const double v = static_cast<double>(x[j]);
        acc[j] = v > acc[j] ? v : acc[j];
        nan[j] |= static_cast<uint8_t>(v != v);
      }
      return;
    case ReduceOp::kMin:
      for (int64_t j = 0; j < n; ++j) {
        const double v = static_cast<double>(x[j]);
        acc[j] = v < acc[j] ? v : acc[j];
        nan[j] |= static_cast<uint8_t>(v != v);
      }
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Softmax and normalization rows.

template <class T>
void softmax_row(int64_t n, const T* x, T* out, bool log) {
  // Max with NaN propagation, as the reference: any NaN makes the whole row NaN.
  double max = -std::numeric_limits<double>::infinity();
  bool nan = false;
  reduce_row<T>(ReduceOp::kMax, n, x, 1, &max, &nan);
  if (nan) {
    for (int64_t i = 0; i < n; ++i) out[i] = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  if (max == -std::numeric_limits<double>::infinity()) max = 0.0;
  const T shift = static_cast<T>(max);
  double part[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  if (log) {
    for (; i + kLanes <= n; i += kLanes) {
      for (int l = 0; l < kLanes; ++l) part[l] += static_cast<double>(Math<T>::exp(x[i + l] - shift));
    }
    double sum = 0.0;
    for (double p : part) sum += p;
    for (; i < n; ++i) sum += static_cast<double>(Math<T>::exp(x[i] - shift));
    const T log_sum = static_cast<T>(std::log(sum) + max);
    for (int64_t j = 0; j < n; ++j) out[j] = x[j] - log_sum;
    return;
  }
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const T e = Math<T>::exp(x[i + l] - shift);
      out[i + l] = e;
      part[l] += static_cast<double>(e);
    }
  }
  double sum = 0.0;
  for (double p : part) sum += p;
  for (; i < n; ++i) {
    const T e = Math<T>::exp(x[i] - shift);
    out[i] = e;
    sum += static_cast<double>(e);
  }
  const T inverse = static_cast<T>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) out[j] *= inverse;
}

inline double sum_squares_f32(int64_t n, const float* x) {
  double part[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double v = static_cast<double>(x[i + l]);
      part[l] += v * v;
    }
  }
  double s = 0.0;
  for (double p : part) s += p;
  for (; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

float rms_norm_row_f32(int64_t n, const float* x, const float* w, double eps, float* out) {
  const double inverse = 1.0 / std::sqrt(sum_squares_f32(n, x) / static_cast<double>(n) + eps);
  const float r = static_cast<float>(inverse);
  if (w != nullptr) {
    for (int64_t j = 0; j < n; ++j) out[j] = x[j] * r * w[j];
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = x[j] * r;
  }
  return r;
}

void layer_norm_row_f32(int64_t n, const float* x, const float* w, const float* b, double eps, float* out,
                        float* mean_out, float* rstd_out) {
  double sum = 0.0;
  bool unused = false;
  reduce_row<float>(ReduceOp::kSum, n, x, 1, &sum, &unused);
  const double mu = sum / static_cast<double>(n);
  double part[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = static_cast<double>(x[i + l]) - mu;
      part[l] += d * d;
    }
  }
  double sq = 0.0;
  for (double p : part) sq += p;
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mu;
    sq += d * d;
  }
  const double inverse = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
  // x − mean in double: with values close to their mean the difference cancels, and float32 would keep
  // only its leading bits.
  for (int64_t j = 0; j < n; ++j) {
    const float y = static_cast<float>((static_cast<double>(x[j]) - mu) * inverse);
    out[j] = (w != nullptr ? y * w[j] : y) + (b != nullptr ? b[j] : 0.0f);
  }
  *mean_out = static_cast<float>(mu);
  *rstd_out = static_cast<float>(inverse);
}

// ---------------------------------------------------------------------------------------------------------
// Rotary embedding and SwiGLU (the fused kernels of src/backend/fused-elementwise.ts).

template <bool kTransposed>
void rotary_loop(int64_t half, const float* x, int64_t sx, const float* c, int64_t sc, const float* s, int64_t ss,
                 float* out) {
  const auto body = [&](int64_t j, float x1, float x2, float c1, float c2, float s1, float s2) {
    if (kTransposed) {
      out[j] = x1 * c1 + x2 * s2;
      out[j + half] = x2 * c2 - x1 * s1;
    } else {
      out[j] = x1 * c1 - x2 * s1;
      out[j + half] = x2 * c2 + x1 * s2;
    }
  };
  if (sx == 1 && sc == 1 && ss == 1) {
    for (int64_t j = 0; j < half; ++j) body(j, x[j], x[j + half], c[j], c[j + half], s[j], s[j + half]);
  } else {
    for (int64_t j = 0; j < half; ++j) {
      body(j, x[j * sx], x[(j + half) * sx], c[j * sc], c[(j + half) * sc], s[j * ss], s[(j + half) * ss]);
    }
  }
}

// One loop per direction and layout, so that each is a branch-free body (unit strides the common case:
// a transposed x appears in backward, where the gradient of a key comes out of q·kᵀ transposed).
void rotary_row_f32(int64_t half, const float* x, int64_t sx, const float* c, int64_t sc, const float* s,
                    int64_t ss, float* out, bool transposed) {
  if (transposed) {
    rotary_loop<true>(half, x, sx, c, sc, s, ss, out);
  } else {
    rotary_loop<false>(half, x, sx, c, sc, s, ss, out);
  }
}

void swiglu_row_f32(int64_t n, const float* gate, int64_t sg, const float* up, int64_t su, float* out) {
  if (sg == 1 && su == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = Math<float>::silu(gate[i]) * up[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = Math<float>::silu(gate[i * sg]) * up[i * su];
  }
}

// σ(g)·(1 + g·(1 − σ(g))) is d silu / dg; the flags select the outputs at compile time so that each
// variant stays a branch-free loop.
template <bool kGate, bool kUp>
void swiglu_backward_loop(int64_t n, const float* dy, int64_t sdy, const float* gate, int64_t sg, const float* up,
                          int64_t su, float* dgate, float* dup) {
  const auto body = [&](int64_t i, float d, float g, float u) {
    const float s = sigmoid_f32(g);
    if (kGate) dgate[i] = d * u * (s * (1.0f + g * (1.0f - s)));
    if (kUp) dup[i] = d * (g * s);
  };
  if (sdy == 1 && sg == 1 && su == 1) {
    for (int64_t i = 0; i < n; ++i) body(i, dy[i], gate[i], up[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) body(i, dy[i * sdy], gate[i * sg], up[i * su]);
  }
}

void swiglu_backward_row_f32(int64_t n, const float* dy, int64_t sdy, const float* gate, int64_t sg,
                             const float* up, int64_t su, float* dgate, float* dup) {
  if (dgate && dup) {
    swiglu_backward_loop<true, true>(n, dy, sdy, gate, sg, up, su, dgate, dup);
  } else if (dgate) {
    swiglu_backward_loop<true, false>(n, dy, sdy, gate, sg, up, su, dgate, dup);
  } else if (dup) {
    swiglu_backward_loop<false, true>(n, dy, sdy, gate, sg, up, su, dgate, dup);
  }
}

#include "linalg_kernels_impl.h"

// ---------------------------------------------------------------------------------------------------------
// The table.

const VectorKernels kTable = {
    LORAKIT_VECTOR_NAME,
    unary_row<float>,
    unary_row<double>,
    predicate_row<float>,
    predicate_row<double>,
    binary_row<float>,
    binary_row<double>,
    compare_row<float>,
    compare_row<double>,
    where_row<float>,
    where_row<double>,
    reduce_row<float>,
    reduce_row<double>,
    accumulate_row<float>,
    accumulate_row<double>,
    softmax_row<float>,
    softmax_row<double>,
    rms_norm_row_f32,
    layer_norm_row_f32,
    rotary_row_f32,
    swiglu_row_f32,
    swiglu_backward_row_f32,
    axpy_row_f64,
    dot_row_f64,
    axpy4_row_f64,
    scatter4_row_f64,
    subtract4_row_f64,
    update2_dot_row_f64,
    update2_accumulate_row_f64,
    rotate_row_f64,
    block_project_f64,
    block_update_f64,
    rotate_sequence_row_f64,
};

}  // namespace
}  // namespace lorakit
