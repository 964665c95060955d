// Elementwise kernels: unary, binary, where, dtype conversion, strided assignment, fills and random.
// The op is a run-time code (uniform across the grid, so the switch costs a branch, not divergence);
// T is the compute type: float for float32/16-bit data, double when float64 or integers are involved
// (what the JavaScript reference computes in).
#pragma once
#include "common.cuh"

// Unary op codes: the order of UNARY_OPS in src/backend/op-codes.ts.
enum UnaryCode {
  U_NEG, U_ABS, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_SIN, U_COS, U_TANH, U_SIGMOID, U_RELU, U_SILU, U_GELU,
  U_GELU_TANH, U_ERF, U_SIGN, U_RECIPROCAL, U_SQUARE, U_FLOOR, U_CEIL, U_ROUND, U_NOT, U_ISNAN, U_ISINF,
  U_POW_SCALAR, U_CLAMP, U_COPY
};

// Binary op codes: the order of BINARY_OPS in src/backend/op-codes.ts.
enum BinaryCode {
  B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAXIMUM, B_MINIMUM, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_AND, B_OR,
  B_SWIGLU
};

__device__ __forceinline__ float sigmoid_(float v) { return v >= 0.f ? 1.f / (1.f + expf(-v)) : expf(v) / (1.f + expf(v)); }
__device__ __forceinline__ double sigmoid_(double v) { return v >= 0 ? 1 / (1 + exp(-v)) : exp(v) / (1 + exp(v)); }
__device__ __forceinline__ float silu_(float v) { return v >= 0.f ? v / (1.f + expf(-v)) : v * expf(v) / (1.f + expf(v)); }
__device__ __forceinline__ double silu_(double v) { return v >= 0 ? v / (1 + exp(-v)) : v * exp(v) / (1 + exp(v)); }

/** JavaScript's `a ** b` (C's pow, except that 1 ** NaN and (±1) ** ±∞ are NaN). */
template <typename T>
__device__ __forceinline__ T js_pow(T a, T b) {
  if (isnan(b)) return (T)__int_as_float(0x7fc00000);
  if (isinf(b) && fabs((double)a) == 1.0) return (T)__int_as_float(0x7fc00000);
  return (T)pow(a, b);
}
__device__ __forceinline__ float js_pow(float a, float b) {
  if (isnan(b)) return __int_as_float(0x7fc00000);
  if (isinf(b) && fabsf(a) == 1.f) return __int_as_float(0x7fc00000);
  return powf(a, b);
}

template <typename T>
__device__ __forceinline__ T apply_unary(int op, T v, double p0, double p1) {
  const T half = (T)0.5, one = (T)1;
  switch (op) {
    case U_NEG: return -v;
    case U_ABS: return fabs(v);
    case U_EXP: return exp(v);
    case U_LOG: return log(v);
    case U_SQRT: return sqrt(v);
    case U_RSQRT: return one / sqrt(v);
    case U_SIN: return sin(v);
    case U_COS: return cos(v);
    case U_TANH: return tanh(v);
    case U_SIGMOID: return sigmoid_(v);
    case U_RELU: return v > (T)0 ? v : (isnan(v) ? v : (T)0);
    case U_SILU: return silu_(v);
    case U_GELU: return half * v * (one + erf(v * (T)0.70710678118654752440));
    case U_GELU_TANH: return half * v * (one + tanh((T)0.79788456080286535588 * (v + (T)0.044715 * v * v * v)));
    case U_ERF: return erf(v);
    case U_SIGN: return v > (T)0 ? one : (v < (T)0 ? -one : (isnan(v) ? v : (T)0));
    case U_RECIPROCAL: return one / v;
    case U_SQUARE: return v * v;
    case U_FLOOR: return floor(v);
    case U_CEIL: return ceil(v);
    case U_ROUND: return rint(v);
    case U_NOT: return v == (T)0 ? one : (T)0;
    case U_ISNAN: return isnan(v) ? one : (T)0;
    case U_ISINF: return isinf(v) ? one : (T)0;
    case U_POW_SCALAR:
      if (p0 == 2) return v * v;
      if (p0 == 0.5) return sqrt(v);
      return js_pow(v, (T)p0);
    case U_CLAMP: return v < (T)p0 ? (T)p0 : (v > (T)p1 ? (T)p1 : v);
    default: return v;
  }
}

template <typename T>
__device__ __forceinline__ T apply_binary(int op, T a, T b) {
  const T one = (T)1, zero = (T)0;
  switch (op) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return js_pow(a, b);
    case B_MAXIMUM: return (isnan(a) || isnan(b)) ? (T)__int_as_float(0x7fc00000) : (a > b ? a : b);
    case B_MINIMUM: return (isnan(a) || isnan(b)) ? (T)__int_as_float(0x7fc00000) : (a < b ? a : b);
    case B_EQ: return a == b ? one : zero;
    case B_NE: return a != b ? one : zero;
    case B_LT: return a < b ? one : zero;
    case B_LE: return a <= b ? one : zero;
    case B_GT: return a > b ? one : zero;
    case B_GE: return a >= b ? one : zero;
    case B_AND: return (a != zero && b != zero) ? one : zero;
    case B_OR: return (a != zero || b != zero) ? one : zero;
    case B_SWIGLU: return silu_(a) * b;
    default: return a;
  }
}

struct UnaryParams {
  Shape shape;
  Arg x;
  void* out;
  i64 outDtype;
  i64 op;
  double p0, p1;
};

template <typename T>
__device__ void unary_body(const UnaryParams& p) {
  GRID_STRIDE(i, p.shape.n) {
    T v = load<T>(p.x.ptr, (int)p.x.dtype, offset_of(p.shape, p.x, i));
    store<T>(p.out, (int)p.outDtype, i, apply_unary<T>((int)p.op, v, p.p0, p.p1));
  }
}
extern "C" __global__ void unary_f32(const UnaryParams p) { unary_body<float>(p); }
extern "C" __global__ void unary_f64(const UnaryParams p) { unary_body<double>(p); }

/** float32 → float32 on contiguous data, four elements per thread (the common training case). */
extern "C" __global__ void unary_f32_vec4(const UnaryParams p) {
  const i64 n4 = p.shape.n / 4;
  const float4* x = (const float4*)((const float*)p.x.ptr + p.x.offset);
  float4* out = (float4*)p.out;
  GRID_STRIDE(i, n4) {
    float4 v = x[i];
    v.x = apply_unary<float>((int)p.op, v.x, p.p0, p.p1);
    v.y = apply_unary<float>((int)p.op, v.y, p.p0, p.p1);
    v.z = apply_unary<float>((int)p.op, v.z, p.p0, p.p1);
    v.w = apply_unary<float>((int)p.op, v.w, p.p0, p.p1);
    out[i] = v;
  }
  const i64 tail = n4 * 4 + (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (tail < p.shape.n && blockIdx.x == 0) {
    const float* xs = (const float*)p.x.ptr + p.x.offset;
    ((float*)p.out)[tail] = apply_unary<float>((int)p.op, xs[tail], p.p0, p.p1);
  }
}

struct BinaryParams {
  Shape shape;
  Arg a;
  Arg b;
  void* out;
  i64 outDtype;
  i64 op;
};

template <typename T>
__device__ void binary_body(const BinaryParams& p) {
  GRID_STRIDE(i, p.shape.n) {
    T a = load<T>(p.a.ptr, (int)p.a.dtype, offset_of(p.shape, p.a, i));
    T b = load<T>(p.b.ptr, (int)p.b.dtype, offset_of(p.shape, p.b, i));
    store<T>(p.out, (int)p.outDtype, i, apply_binary<T>((int)p.op, a, b));
  }
}
extern "C" __global__ void binary_f32(const BinaryParams p) { binary_body<float>(p); }
extern "C" __global__ void binary_f64(const BinaryParams p) { binary_body<double>(p); }

/** float32 ∘ float32 → float32, both contiguous, four elements per thread. */
extern "C" __global__ void binary_f32_vec4(const BinaryParams p) {
  const i64 n4 = p.shape.n / 4;
  const float* as = (const float*)p.a.ptr + p.a.offset;
  const float* bs = (const float*)p.b.ptr + p.b.offset;
  GRID_STRIDE(i, n4) {
    float4 a = ((const float4*)as)[i], b = ((const float4*)bs)[i], o;
    o.x = apply_binary<float>((int)p.op, a.x, b.x);
    o.y = apply_binary<float>((int)p.op, a.y, b.y);
    o.z = apply_binary<float>((int)p.op, a.z, b.z);
    o.w = apply_binary<float>((int)p.op, a.w, b.w);
    ((float4*)p.out)[i] = o;
  }
  const i64 tail = n4 * 4 + (i64)blockIdx.x * blockDim.x + threadIdx.x;
  if (tail < p.shape.n && blockIdx.x == 0) ((float*)p.out)[tail] = apply_binary<float>((int)p.op, as[tail], bs[tail]);
}

struct WhereParams {
  Shape shape;
  Arg condition;
  Arg a;
  Arg b;
  void* out;
  i64 outDtype;
};

template <typename T>
__device__ void where_body(const WhereParams& p) {
  GRID_STRIDE(i, p.shape.n) {
    const bool c = load<double>(p.condition.ptr, (int)p.condition.dtype, offset_of(p.shape, p.condition, i)) != 0;
    T v = c ? load<T>(p.a.ptr, (int)p.a.dtype, offset_of(p.shape, p.a, i))
            : load<T>(p.b.ptr, (int)p.b.dtype, offset_of(p.shape, p.b, i));
    store<T>(p.out, (int)p.outDtype, i, v);
  }
}
extern "C" __global__ void where_f32(const WhereParams p) { where_body<float>(p); }
extern "C" __global__ void where_f64(const WhereParams p) { where_body<double>(p); }

/** Strided write of `src` into `dst` (same logical shape), converting to dst's dtype. */
struct AssignParams {
  Shape shape;
  Arg dst;
  Arg src;
};
template <typename T>
__device__ void assign_body(const AssignParams& p) {
  GRID_STRIDE(i, p.shape.n) {
    T v = load<T>(p.src.ptr, (int)p.src.dtype, offset_of(p.shape, p.src, i));
    store<T>((void*)p.dst.ptr, (int)p.dst.dtype, offset_of(p.shape, p.dst, i), v);
  }
}
extern "C" __global__ void assign_f32(const AssignParams p) { assign_body<float>(p); }
extern "C" __global__ void assign_f64(const AssignParams p) { assign_body<double>(p); }

/** Same-dtype strided copy by bits (no conversion: int64 beyond 2⁵³ and NaN payloads are kept). */
template <typename W>
__device__ void assign_bits_body(const AssignParams& p) {
  GRID_STRIDE(i, p.shape.n) {
    ((W*)p.dst.ptr)[offset_of(p.shape, p.dst, i)] = ((const W*)p.src.ptr)[offset_of(p.shape, p.src, i)];
  }
}
extern "C" __global__ void assign_bits8(const AssignParams p) { assign_bits_body<unsigned char>(p); }
extern "C" __global__ void assign_bits16(const AssignParams p) { assign_bits_body<unsigned short>(p); }
extern "C" __global__ void assign_bits32(const AssignParams p) { assign_bits_body<unsigned>(p); }
extern "C" __global__ void assign_bits64(const AssignParams p) { assign_bits_body<u64>(p); }

struct FillParams {
  void* out;
  i64 dtype;
  i64 n;
  double start;
  double step;
};
/** start + i·step in double, stored with the dtype's conversion (what the reference computes). */
extern "C" __global__ void fill_f64(const FillParams p) {
  GRID_STRIDE(i, p.n) { store<double>(p.out, (int)p.dtype, i, p.start + (double)i * p.step); }
}

// ── Philox4x32-10, exactly as src/random/philox.ts in @lorakit/tensor defines it ──────────────────────

__device__ __forceinline__ void philox_block(u64 block, unsigned k0, unsigned k1, unsigned out[4]) {
  unsigned c0 = (unsigned)block, c1 = (unsigned)(block >> 32), c2 = 0, c3 = 0;
  for (int round = 0; round < 10; round++) {
    const unsigned hi0 = __umulhi(0xd2511f53u, c0), lo0 = 0xd2511f53u * c0;
    const unsigned hi1 = __umulhi(0xcd9e8d57u, c2), lo1 = 0xcd9e8d57u * c2;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

__device__ __forceinline__ unsigned philox_word(u64 counter, unsigned k0, unsigned k1, u64 w) {
  unsigned words[4];
  philox_block(counter + w / 4, k0, k1, words);
  return words[w % 4];
}

struct RandomParams {
  void* out;
  i64 dtype;
  i64 n;
  i64 kind;  // 0 uniform, 1 normal, 2 bernoulli, 3 randint
  double a, b;
  i64 key0, key1;
  i64 counter;
};
extern "C" __global__ void random_fill(const RandomParams p) {
  const unsigned k0 = (unsigned)p.key0, k1 = (unsigned)p.key1;
  const u64 counter = (u64)p.counter;
  const double two24 = 16777216.0;
  GRID_STRIDE(i, p.n) {
    double v;
    if (p.kind == 1) {
      const unsigned w1 = philox_word(counter, k0, k1, 2 * (u64)i), w2 = philox_word(counter, k0, k1, 2 * (u64)i + 1);
      const double u1 = ((double)(w1 >> 8) + 0.5) / two24, u2 = (double)(w2 >> 8) / two24;
      v = p.a + p.b * sqrt(-2.0 * log(u1)) * cos(2.0 * 3.141592653589793 * u2);
    } else {
      const unsigned w = philox_word(counter, k0, k1, (u64)i);
      if (p.kind == 0) v = p.a + (p.b - p.a) * ((double)(w >> 8) / two24);
      else if (p.kind == 2) v = (double)(w >> 8) / two24 < p.a ? 1.0 : 0.0;
      else v = p.a + floor((double)w * (p.b - p.a) / 4294967296.0);
    }
    store<double>(p.out, (int)p.dtype, i, v);
  }
}
