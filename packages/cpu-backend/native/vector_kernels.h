// Row kernels of the tensor ops: the innermost loops that elementwise ops, reductions, softmax and
// normalization run over one row of a strided operand. The drivers (elementwise.cc, reduce.cc, norm.cc)
// walk the outer dims and call these once per row.
//
// Two tables exist, built from the same templates (vector_kernels_impl.h): one compiled for the
// baseline target and one compiled with -mavx2 -mfma, chosen at run time with the GEMM kernels, so the
// compiler's auto-vectorization can use 256-bit vectors without a SIGILL on older CPUs.
//
// Float32 rows use branch-free approximations of exp, tanh and erf (a few ulp) that vectorize; float64
// rows use the C library, which is what the JavaScript reference computes with.
#pragma once

#include <cstdint>

namespace lorakit {

// The order is the contract with src/backend/op-codes.ts, which reads the names from the addon.
enum class UnaryOp : int32_t {
  kNeg,
  kAbs,
  kExp,
  kLog,
  kSqrt,
  kRsqrt,
  kSin,
  kCos,
  kTanh,
  kSigmoid,
  kRelu,
  kSilu,
  kGelu,
  kGeluTanh,
  kErf,
  kSign,
  kReciprocal,
  kSquare,
  kFloor,
  kCeil,
  kRound,
  kNot,
  kIsnan,
  kIsinf,
  kPowScalar,
  kClamp,
  kCount
};

enum class BinaryOp : int32_t {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kPow,
  kMaximum,
  kMinimum,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kCount
};

enum class ReduceOp : int32_t { kSum, kProd, kMax, kMin, kCount };

const char* unary_op_name(UnaryOp op);
const char* binary_op_name(BinaryOp op);
const char* reduce_op_name(ReduceOp op);

// not, isnan and isinf give bool; every other unary op gives the input's type.
inline bool is_predicate(UnaryOp op) {
  return op == UnaryOp::kNot || op == UnaryOp::kIsnan || op == UnaryOp::kIsinf;
}
// eq … ge, and, or give bool.
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::kEq; }

// Every function handles any stride, including 0 (a broadcast operand) and negative ones; outputs are
// contiguous unless a stride says otherwise. n may be 0.
struct VectorKernels {
  const char* name;

  // out[i] = op(x[i·sx]); params: pow_scalar's exponent, clamp's (min, max).
  void (*unary_f32)(UnaryOp op, int64_t n, const float* x, int64_t sx, float* out, const double* params);
  void (*unary_f64)(UnaryOp op, int64_t n, const double* x, int64_t sx, double* out, const double* params);
  // out[i] = op(x[i·sx]) for not / isnan / isinf, as 0 or 1.
  void (*predicate_f32)(UnaryOp op, int64_t n, const float* x, int64_t sx, uint8_t* out);
  void (*predicate_f64)(UnaryOp op, int64_t n, const double* x, int64_t sx, uint8_t* out);

  // out[i] = a[i·sa] op b[i·sb] for add … minimum.
  void (*binary_f32)(BinaryOp op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                     float* out);
  void (*binary_f64)(BinaryOp op, int64_t n, const double* a, int64_t sa, const double* b, int64_t sb,
                     double* out);
  // The comparisons and logical ops, as 0 or 1.
  void (*compare_f32)(BinaryOp op, int64_t n, const float* a, int64_t sa, const float* b, int64_t sb,
                      uint8_t* out);
  void (*compare_f64)(BinaryOp op, int64_t n, const double* a, int64_t sa, const double* b, int64_t sb,
                      uint8_t* out);

  // out[i] = c[i·sc] ? a[i·sa] : b[i·sb].
  void (*where_f32)(int64_t n, const uint8_t* c, int64_t sc, const float* a, int64_t sa, const float* b,
                    int64_t sb, float* out);
  void (*where_f64)(int64_t n, const uint8_t* c, int64_t sc, const double* a, int64_t sa, const double* b,
                    int64_t sb, double* out);

  // Folds one row into *acc (sum and prod in double; max and min keep the extreme and set *nan when the
  // row holds a NaN).
  void (*reduce_f32)(ReduceOp op, int64_t n, const float* x, int64_t sx, double* acc, bool* nan);
  void (*reduce_f64)(ReduceOp op, int64_t n, const double* x, int64_t sx, double* acc, bool* nan);
  // Column form: acc[j] ⊕= x[j] for j < n (x contiguous), nan[j] = 1 when x[j] is NaN (max and min).
  void (*accumulate_f32)(ReduceOp op, int64_t n, const float* x, double* acc, uint8_t* nan);
  void (*accumulate_f64)(ReduceOp op, int64_t n, const double* x, double* acc, uint8_t* nan);

  // Softmax or log-softmax of one contiguous row (max-shifted, the sum accumulated in double).
  void (*softmax_f32)(int64_t n, const float* x, float* out, bool log);
  void (*softmax_f64)(int64_t n, const double* x, double* out, bool log);

  // out = x · rstd · w with rstd = 1/sqrt(mean(x²) + eps) (w may be null); returns rstd.
  float (*rms_norm_f32)(int64_t n, const float* x, const float* w, double eps, float* out);
  // out = (x − mean) · rstd · w + b (w, b may be null); writes mean and rstd.
  void (*layer_norm_f32)(int64_t n, const float* x, const float* w, const float* b, double eps, float* out,
                         float* mean, float* rstd);

  // y[i] += alpha · x[i] and the dot product Σ x[i]·y[i] in double, for the linear-algebra kernels.
  void (*axpy_f64)(int64_t n, double alpha, const double* x, double* y);
  double (*dot_f64)(int64_t n, const double* x, const double* y);
  // Rows i and j of length n become (c·xᵢ + s·xⱼ, c·xⱼ − s·xᵢ): one Givens rotation.
  void (*rotate_f64)(int64_t n, double* x, double* y, double c, double s);
};

const VectorKernels& portable_vector_kernels();
// Null where this build has no AVX2 translation unit.
const VectorKernels* avx2_vector_kernels();

// The table that matches the GEMM kernel set in use (setKernel switches both).
const VectorKernels& vector_kernels();

}  // namespace lorakit
