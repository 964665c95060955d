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
// Level-1 pieces of the linear-algebra kernels.

void axpy_row_f64(int64_t n, double alpha, const double* x, double* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

double dot_row_f64(int64_t n, const double* x, const double* y) {
  double part[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += x[i + l] * y[i + l];
  }
  double s = 0.0;
  for (double p : part) s += p;
  for (; i < n; ++i) s += x[i] * y[i];
  return s;
}

void axpy4_row_f64(int64_t n, double a0, double a1, double a2, double a3, const double* __restrict r0,
                   const double* __restrict r1, const double* __restrict r2, const double* __restrict r3,
                   double* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] += (a0 * r0[i] + a1 * r1[i]) + (a2 * r2[i] + a3 * r3[i]);
}

void scatter4_row_f64(int64_t n, const double* __restrict x, double y0, double y1, double y2, double y3,
                      double* __restrict w0, double* __restrict w1, double* __restrict w2, double* __restrict w3) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    w0[i] += y0 * v;
    w1[i] += y1 * v;
    w2[i] += y2 * v;
    w3[i] += y3 * v;
  }
}

void subtract4_row_f64(int64_t n, double* __restrict c, double y0, double y1, double y2, double y3,
                       const double* __restrict w0, const double* __restrict w1, const double* __restrict w2,
                       const double* __restrict w3) {
  for (int64_t i = 0; i < n; ++i) c[i] -= (y0 * w0[i] + y1 * w1[i]) + (y2 * w2[i] + y3 * w3[i]);
}

void update2_dot_row_f64(int64_t n, double* __restrict r0, double* __restrict r1, double a0, double b0, double a1,
                         double b1, const double* __restrict p, const double* __restrict q,
                         const double* __restrict z, double* dots) {
  double d0[4] = {0, 0, 0, 0};
  double d1[4] = {0, 0, 0, 0};
  int64_t i = 0;
  if (q != nullptr) {
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; ++l) {
        const double x0 = r0[i + l] - (a0 * p[i + l] + b0 * q[i + l]);
        const double x1 = r1[i + l] - (a1 * p[i + l] + b1 * q[i + l]);
        r0[i + l] = x0;
        r1[i + l] = x1;
        d0[l] += x0 * z[i + l];
        d1[l] += x1 * z[i + l];
      }
    }
    for (; i < n; ++i) {
      const double x0 = r0[i] - (a0 * p[i] + b0 * q[i]);
      const double x1 = r1[i] - (a1 * p[i] + b1 * q[i]);
      r0[i] = x0;
      r1[i] = x1;
      d0[0] += x0 * z[i];
      d1[0] += x1 * z[i];
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      for (int l = 0; l < 4; ++l) {
        const double x0 = r0[i + l] - a0 * p[i + l];
        const double x1 = r1[i + l] - a1 * p[i + l];
        r0[i + l] = x0;
        r1[i + l] = x1;
        d0[l] += x0 * z[i + l];
        d1[l] += x1 * z[i + l];
      }
    }
    for (; i < n; ++i) {
      const double x0 = r0[i] - a0 * p[i];
      const double x1 = r1[i] - a1 * p[i];
      r0[i] = x0;
      r1[i] = x1;
      d0[0] += x0 * z[i];
      d1[0] += x1 * z[i];
    }
  }
  dots[0] = (d0[0] + d0[1]) + (d0[2] + d0[3]);
  dots[1] = (d1[0] + d1[1]) + (d1[2] + d1[3]);
}

void update2_accumulate_row_f64(int64_t n, double* __restrict r0, double* __restrict r1, double f0, double f1,
                                const double* __restrict q, double w0, double w1, double* __restrict g) {
  if (n <= 0) return;
  if (r1 == nullptr) {
    r0[0] -= f0 * q[0];
    const double x0 = w0 * r0[0];
    for (int64_t c = 1; c < n; ++c) {
      const double a = r0[c] - f0 * q[c];
      r0[c] = a;
      g[c - 1] += x0 * a;
    }
    return;
  }
  r0[0] -= f0 * q[0];
  r1[0] -= f1 * q[0];
  const double x0 = w0 * r0[0];
  const double x1 = w1 * r1[0];
  for (int64_t c = 1; c < n; ++c) {
    const double a = r0[c] - f0 * q[c];
    const double b = r1[c] - f1 * q[c];
    r0[c] = a;
    r1[c] = b;
    g[c - 1] += x0 * a + x1 * b;
  }
}

void rotate_row_f64(int64_t n, double* __restrict x, double* __restrict y, double c, double s) {
  for (int64_t i = 0; i < n; ++i) {
    const double a = x[i];
    const double b = y[i];
    x[i] = c * a + s * b;
    y[i] = c * b - s * a;
  }
}

// W = Yᵀ·C and C −= Y·W, one reflector / one row at a time (the portable form, and the tails).
void block_project_generic(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                           double* w, int64_t l0, int64_t k0) {
  for (int64_t l = l0; l < b; ++l) {
    double* wl = w + l * width;
    for (int64_t k = k0; k < width; ++k) wl[k] = 0.0;
  }
  for (int64_t i = 0; i < rows; ++i) {
    const double* ci = c + i * ldc;
    for (int64_t l = l0; l < b && l <= i; ++l) {
      const double yl = y[i * b + l];
      if (yl == 0.0) continue;
      double* wl = w + l * width;
      for (int64_t k = k0; k < width; ++k) wl[k] += yl * ci[k];
    }
  }
}

void block_update_generic(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                          int64_t ldc, int64_t i0, int64_t k0) {
  for (int64_t i = i0; i < rows; ++i) {
    double* ci = c + i * ldc;
    const int64_t count = i + 1 < b ? i + 1 : b;
    for (int64_t l = 0; l < count; ++l) {
      const double yl = y[i * b + l];
      if (yl == 0.0) continue;
      const double* wl = w + l * width;
      for (int64_t k = k0; k < width; ++k) ci[k] -= yl * wl[k];
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// W = Yᵀ·C as a register-blocked product: a 4 × 8 tile of W (eight accumulators) runs down all the rows
// of C; the eight-column strip of C it reads stays in L1 for the next reflectors' tiles. Y is zero above
// its diagonal, so a tile starts at its first reflector's row.
void block_project_avx2(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                        double* w, double* strip) {
  const int64_t b4 = b - b % 4;
  const int64_t w8 = width - width % 8;
  for (int64_t k = 0; k < w8; k += 8) {
    // The strip is copied out first: rows of C lie ldc·8 bytes apart, often a power of two, and in place
    // every row of the strip would fall into the same few cache sets.
    for (int64_t i = 0; i < rows; ++i) {
      _mm256_storeu_pd(strip + 8 * i, _mm256_loadu_pd(c + i * ldc + k));
      _mm256_storeu_pd(strip + 8 * i + 4, _mm256_loadu_pd(c + i * ldc + k + 4));
    }
    for (int64_t l = 0; l < b4; l += 4) {
      __m256d a00 = _mm256_setzero_pd(), a01 = _mm256_setzero_pd(), a10 = _mm256_setzero_pd(),
              a11 = _mm256_setzero_pd(), a20 = _mm256_setzero_pd(), a21 = _mm256_setzero_pd(),
              a30 = _mm256_setzero_pd(), a31 = _mm256_setzero_pd();
      for (int64_t i = l; i < rows; ++i) {
        const double* ci = strip + 8 * i;
        const __m256d c0 = _mm256_loadu_pd(ci);
        const __m256d c1 = _mm256_loadu_pd(ci + 4);
        const double* yi = y + i * b + l;
        const __m256d y0 = _mm256_broadcast_sd(yi);
        const __m256d y1 = _mm256_broadcast_sd(yi + 1);
        const __m256d y2 = _mm256_broadcast_sd(yi + 2);
        const __m256d y3 = _mm256_broadcast_sd(yi + 3);
        a00 = _mm256_fmadd_pd(y0, c0, a00);
        a01 = _mm256_fmadd_pd(y0, c1, a01);
        a10 = _mm256_fmadd_pd(y1, c0, a10);
        a11 = _mm256_fmadd_pd(y1, c1, a11);
        a20 = _mm256_fmadd_pd(y2, c0, a20);
        a21 = _mm256_fmadd_pd(y2, c1, a21);
        a30 = _mm256_fmadd_pd(y3, c0, a30);
        a31 = _mm256_fmadd_pd(y3, c1, a31);
      }
      double* wl = w + l * width + k;
      _mm256_storeu_pd(wl, a00);
      _mm256_storeu_pd(wl + 4, a01);
      _mm256_storeu_pd(wl + width, a10);
      _mm256_storeu_pd(wl + width + 4, a11);
      _mm256_storeu_pd(wl + 2 * width, a20);
      _mm256_storeu_pd(wl + 2 * width + 4, a21);
      _mm256_storeu_pd(wl + 3 * width, a30);
      _mm256_storeu_pd(wl + 3 * width + 4, a31);
    }
  }
  // Reflectors past the last multiple of four (all columns), then columns past the last multiple of
  // eight (the first b4 reflectors).
  if (b4 < b) block_project_generic(rows, b, y, c, ldc, width, w, b4, 0);
  if (w8 < width) {
    for (int64_t l = 0; l < b4; ++l) {
      for (int64_t k = w8; k < width; ++k) w[l * width + k] = 0.0;
    }
    for (int64_t i = 0; i < rows; ++i) {
      const double* ci = c + i * ldc;
      for (int64_t l = 0; l < b4 && l <= i; ++l) {
        const double yl = y[i * b + l];
        for (int64_t k = w8; k < width; ++k) w[l * width + k] += yl * ci[k];
      }
    }
  }
}

// C −= Y·W with a 4 × 8 tile of C in registers while the reflectors go by.
void block_update_avx2(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                       int64_t ldc) {
  const int64_t r4 = rows - rows % 4;
  const int64_t w8 = width - width % 8;
  for (int64_t i = 0; i < r4; i += 4) {
    const int64_t count = i + 4 < b ? i + 4 : b;  // y[i + 3][l] is zero for l > i + 3
    const double* y0p = y + i * b;
    for (int64_t k = 0; k < w8; k += 8) {
      double* c0p = c + i * ldc + k;
      __m256d c00 = _mm256_loadu_pd(c0p), c01 = _mm256_loadu_pd(c0p + 4);
      __m256d c10 = _mm256_loadu_pd(c0p + ldc), c11 = _mm256_loadu_pd(c0p + ldc + 4);
      __m256d c20 = _mm256_loadu_pd(c0p + 2 * ldc), c21 = _mm256_loadu_pd(c0p + 2 * ldc + 4);
      __m256d c30 = _mm256_loadu_pd(c0p + 3 * ldc), c31 = _mm256_loadu_pd(c0p + 3 * ldc + 4);
      for (int64_t l = 0; l < count; ++l) {
        const __m256d w0 = _mm256_loadu_pd(w + l * width + k);
        const __m256d w1 = _mm256_loadu_pd(w + l * width + k + 4);
        const __m256d y0 = _mm256_broadcast_sd(y0p + l);
        const __m256d y1 = _mm256_broadcast_sd(y0p + b + l);
        const __m256d y2 = _mm256_broadcast_sd(y0p + 2 * b + l);
        const __m256d y3 = _mm256_broadcast_sd(y0p + 3 * b + l);
        c00 = _mm256_fnmadd_pd(y0, w0, c00);
        c01 = _mm256_fnmadd_pd(y0, w1, c01);
        c10 = _mm256_fnmadd_pd(y1, w0, c10);
        c11 = _mm256_fnmadd_pd(y1, w1, c11);
        c20 = _mm256_fnmadd_pd(y2, w0, c20);
        c21 = _mm256_fnmadd_pd(y2, w1, c21);
        c30 = _mm256_fnmadd_pd(y3, w0, c30);
        c31 = _mm256_fnmadd_pd(y3, w1, c31);
      }
      _mm256_storeu_pd(c0p, c00);
      _mm256_storeu_pd(c0p + 4, c01);
      _mm256_storeu_pd(c0p + ldc, c10);
      _mm256_storeu_pd(c0p + ldc + 4, c11);
      _mm256_storeu_pd(c0p + 2 * ldc, c20);
      _mm256_storeu_pd(c0p + 2 * ldc + 4, c21);
      _mm256_storeu_pd(c0p + 3 * ldc, c30);
      _mm256_storeu_pd(c0p + 3 * ldc + 4, c31);
    }
    if (w8 < width) {
      for (int64_t r = 0; r < 4; ++r) {
        double* ci = c + (i + r) * ldc;
        const int64_t lr = i + r + 1 < b ? i + r + 1 : b;
        for (int64_t l = 0; l < lr; ++l) {
          const double yl = y[(i + r) * b + l];
          for (int64_t k = w8; k < width; ++k) ci[k] -= yl * w[l * width + k];
        }
      }
    }
  }
  if (r4 < rows) block_update_generic(rows, b, y, w, width, c, ldc, r4, 0);
}

// A packed panel of 16 columns: the row being rotated down the sequence stays in four registers, each
// rotation loads and stores one row. Four independent column vectors hide the multiply–add latency.
void rotate_sequence_16_avx2(double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
  __m256d x0 = _mm256_loadu_pd(rows);
  __m256d x1 = _mm256_loadu_pd(rows + 4);
  __m256d x2 = _mm256_loadu_pd(rows + 8);
  __m256d x3 = _mm256_loadu_pd(rows + 12);
  double* row = rows;
  for (int64_t r = 0; r < count; ++r, row += ld) {
    const __m256d cr = _mm256_broadcast_sd(c + r);
    const __m256d sr = _mm256_broadcast_sd(s + r);
    double* next = row + ld;
    const __m256d y0 = _mm256_loadu_pd(next);
    const __m256d y1 = _mm256_loadu_pd(next + 4);
    const __m256d y2 = _mm256_loadu_pd(next + 8);
    const __m256d y3 = _mm256_loadu_pd(next + 12);
    _mm256_storeu_pd(row, _mm256_fmadd_pd(sr, y0, _mm256_mul_pd(cr, x0)));
    _mm256_storeu_pd(row + 4, _mm256_fmadd_pd(sr, y1, _mm256_mul_pd(cr, x1)));
    _mm256_storeu_pd(row + 8, _mm256_fmadd_pd(sr, y2, _mm256_mul_pd(cr, x2)));
    _mm256_storeu_pd(row + 12, _mm256_fmadd_pd(sr, y3, _mm256_mul_pd(cr, x3)));
    x0 = _mm256_fnmadd_pd(sr, x0, _mm256_mul_pd(cr, y0));
    x1 = _mm256_fnmadd_pd(sr, x1, _mm256_mul_pd(cr, y1));
    x2 = _mm256_fnmadd_pd(sr, x2, _mm256_mul_pd(cr, y2));
    x3 = _mm256_fnmadd_pd(sr, x3, _mm256_mul_pd(cr, y3));
  }
  _mm256_storeu_pd(row, x0);
  _mm256_storeu_pd(row + 4, x1);
  _mm256_storeu_pd(row + 8, x2);
  _mm256_storeu_pd(row + 12, x3);
}

void rotate_sequence_8_avx2(double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
  __m256d x0 = _mm256_loadu_pd(rows);
  __m256d x1 = _mm256_loadu_pd(rows + 4);
  double* row = rows;
  for (int64_t r = 0; r < count; ++r, row += ld) {
    const __m256d cr = _mm256_broadcast_sd(c + r);
    const __m256d sr = _mm256_broadcast_sd(s + r);
    double* next = row + ld;
    const __m256d y0 = _mm256_loadu_pd(next);
    const __m256d y1 = _mm256_loadu_pd(next + 4);
    _mm256_storeu_pd(row, _mm256_fmadd_pd(sr, y0, _mm256_mul_pd(cr, x0)));
    _mm256_storeu_pd(row + 4, _mm256_fmadd_pd(sr, y1, _mm256_mul_pd(cr, x1)));
    x0 = _mm256_fnmadd_pd(sr, x0, _mm256_mul_pd(cr, y0));
    x1 = _mm256_fnmadd_pd(sr, x1, _mm256_mul_pd(cr, y1));
  }
  _mm256_storeu_pd(row, x0);
  _mm256_storeu_pd(row + 4, x1);
}
#endif

void block_project_f64(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc, int64_t width,
                       double* w, double* scratch) {
#if defined(__AVX2__) && defined(__FMA__)
  block_project_avx2(rows, b, y, c, ldc, width, w, scratch);
#else
  (void)scratch;
  block_project_generic(rows, b, y, c, ldc, width, w, 0, 0);
#endif
}

void block_update_f64(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                      int64_t ldc) {
#if defined(__AVX2__) && defined(__FMA__)
  block_update_avx2(rows, b, y, w, width, c, ldc);
#else
  block_update_generic(rows, b, y, w, width, c, ldc, 0, 0);
#endif
}

void rotate_sequence_row_f64(int64_t n, double* rows, int64_t ld, const double* c, const double* s, int64_t count) {
#if defined(__AVX2__) && defined(__FMA__)
  if (count > 0 && n == 16) return rotate_sequence_16_avx2(rows, ld, c, s, count);
  if (count > 0 && n == 8) return rotate_sequence_8_avx2(rows, ld, c, s, count);
#endif
  int64_t r = 0;
  for (; r + 3 < count; r += 4) {
    const double c0 = c[r], s0 = s[r], c1 = c[r + 1], s1 = s[r + 1];
    const double c2 = c[r + 2], s2 = s[r + 2], c3 = c[r + 3], s3 = s[r + 3];
    double* __restrict o0 = rows + r * ld;
    double* __restrict o1 = o0 + ld;
    double* __restrict o2 = o1 + ld;
    double* __restrict o3 = o2 + ld;
    double* __restrict o4 = o3 + ld;
    for (int64_t t = 0; t < n; ++t) {
      const double x0 = o0[t];
      const double x1 = o1[t];
      o0[t] = c0 * x0 + s0 * x1;
      const double carry1 = c0 * x1 - s0 * x0;
      const double x2 = o2[t];
      o1[t] = c1 * carry1 + s1 * x2;
      const double carry2 = c1 * x2 - s1 * carry1;
      const double x3 = o3[t];
      o2[t] = c2 * carry2 + s2 * x3;
      const double carry3 = c2 * x3 - s2 * carry2;
      const double x4 = o4[t];
      o3[t] = c3 * carry3 + s3 * x4;
      o4[t] = c3 * x4 - s3 * carry3;
    }
  }
  for (; r < count; ++r) rotate_row_f64(n, rows + r * ld, rows + (r + 1) * ld, c[r], s[r]);
}

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
