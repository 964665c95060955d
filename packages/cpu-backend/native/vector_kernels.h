// Row kernels of the tensor ops: the innermost loops that elementwise ops, reductions, softmax and
// normalization run over one row of a strided operand. The drivers (elementwise.cc, reduce.cc, norm.cc)
// walk the outer dims and call these once per row.
//
// Three tables exist, built from the same templates (vector_kernels_impl.h): one compiled for the
// baseline target, one with -mavx2 -mfma and one with AVX-512 (F, DQ, BW, VL), chosen at run time with
// the GEMM kernels, so the compiler's auto-vectorization can use 256- and 512-bit vectors without a
// SIGILL on older CPUs.
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

  // Rotary embedding of one row of 2·half elements (x[j·sx], c[j·sc], s[j·ss]; out contiguous) in the
  // rotate_half layout, with j < half: forward out[j] = x[j]·c[j] − x[j+h]·s[j] and
  // out[j+h] = x[j+h]·c[j+h] + x[j]·s[j+h]; transposed (the gradient with respect to x)
  // out[j] = x[j]·c[j] + x[j+h]·s[j+h] and out[j+h] = x[j+h]·c[j+h] − x[j]·s[j].
  void (*rotary_f32)(int64_t half, const float* x, int64_t sx, const float* c, int64_t sc, const float* s,
                     int64_t ss, float* out, bool transposed);
  // SwiGLU: out[i] = silu(gate[i·sg]) · up[i·su], out contiguous.
  void (*swiglu_f32)(int64_t n, const float* gate, int64_t sg, const float* up, int64_t su, float* out);
  // Its gradients for the incoming dy, outputs contiguous, either one null (then not computed):
  // dgate[i] = dy·up·σ(g)·(1 + g·(1 − σ(g))), dup[i] = dy·silu(g) with g = gate[i·sg].
  void (*swiglu_backward_f32)(int64_t n, const float* dy, int64_t sdy, const float* gate, int64_t sg,
                              const float* up, int64_t su, float* dgate, float* dup);

  // ── Level-1 pieces of the linear-algebra kernels (linalg_*.cc), float64 ──
  // y += alpha · x
  void (*axpy_f64)(int64_t n, double alpha, const double* x, double* y);
  // Σ x·y
  double (*dot_f64)(int64_t n, const double* x, const double* y);
  // y += a0·r0 + a1·r1 + a2·r2 + a3·r3 (four rows into one)
  void (*axpy4_f64)(int64_t n, double a0, double a1, double a2, double a3, const double* r0, const double* r1,
                    const double* r2, const double* r3, double* y);
  // w_l += y_l · x for l < 4 (one row into four)
  void (*scatter4_f64)(int64_t n, const double* x, double y0, double y1, double y2, double y3, double* w0,
                       double* w1, double* w2, double* w3);
  // c −= y0·w0 + y1·w1 + y2·w2 + y3·w3
  void (*subtract4_f64)(int64_t n, double* c, double y0, double y1, double y2, double y3, const double* w0,
                        const double* w1, const double* w2, const double* w3);
  // Two rows at once: r_k ← r_k − a_k·p − b_k·q, then dots[k] = Σ r_k·z (b_k and q may be 0 / null).
  void (*update2_dot_f64)(int64_t n, double* r0, double* r1, double a0, double b0, double a1, double b1,
                          const double* p, const double* q, const double* z, double* dots);
  // Two rows at once (r1 may be null): r_k −= f_k·q over n values, then
  // g[c − 1] += x_k·r_k[c] for c ≥ 1 with x_k = wk·r_k[0] (the new first entries, weighted 0 or 1).
  void (*update2_accumulate_f64)(int64_t n, double* r0, double* r1, double f0, double f1, const double* q,
                                 double w0, double w1, double* g);
  // Rows x and y become (c·x + s·y, c·y − s·x): one Givens rotation.
  void (*rotate_f64)(int64_t n, double* x, double* y, double c, double s);
  // The two products of a blocked reflector application (block_reflector in linalg_common.cc), with Y
  // (rows × b, row-major, zero above its unit diagonal), W (b × width, row-major) and C (rows × width,
  // rows ldc apart):  W = Yᵀ·C  and  C −= Y·W. `scratch` holds rows × 8 doubles.
  void (*block_project_f64)(int64_t rows, int64_t b, const double* y, const double* c, int64_t ldc,
                            int64_t width, double* w, double* scratch);
  void (*block_update_f64)(int64_t rows, int64_t b, const double* y, const double* w, int64_t width, double* c,
                           int64_t ldc);
  // Rotations r = 0 … count − 1 in order, rotation r on rows r and r + 1 of `rows` (row i at rows + i·ld),
  // as rotate_f64 with c[r], s[r]; fused four at a time so each element is loaded and stored once per four.
  void (*rotate_sequence_f64)(int64_t n, double* rows, int64_t ld, const double* c, const double* s,
                              int64_t count);
};

const VectorKernels& portable_vector_kernels();
// Null where this build has no AVX2 translation unit.
const VectorKernels* avx2_vector_kernels();
// Null where this build has no AVX-512 translation unit.
const VectorKernels* avx512_vector_kernels();

// The table that matches the GEMM kernel set in use (setKernel switches both).
const VectorKernels& vector_kernels();

}  // namespace lorakit
