// The tensor kernels behind the `cpu` backend (src/backend/*.ts). Each receives plain, already
// validated arguments: layouts whose dims TypeScript has coalesced, element offsets inside the typed
// arrays, output buffers of the right size. Nothing here checks shapes or broadcasts.
#pragma once

#include <cstdint>

#include "dtype.h"
#include "strided.h"
#include "vector_kernels.h"

namespace lorakit {

// A layout plus one element offset per operand (operand 0 is the output).
struct StridedCall {
  Strided layout;
  int64_t offsets[kMaxOperands] = {};
};

// ── elementwise (elementwise.cc) ─────────────────────────────────────────────────────────────────────
// Operands: 0 = out, 1 = x (2 = b, 3 = …). Outputs of unary/binary/where are contiguous.
void unary(UnaryOp op, const StridedCall& call, const Operand& out, const Operand& x, const double* params);
void binary(BinaryOp op, const StridedCall& call, const Operand& out, const Operand& a, const Operand& b);
void where(const StridedCall& call, const Operand& out, const Operand& condition, const Operand& a,
           const Operand& b);
// out (any strides: this is also `assign`) = x converted to out's dtype.
void convert_copy(const StridedCall& call, const Operand& out, const Operand& x);

// ── reductions (reduce.cc) ───────────────────────────────────────────────────────────────────────────
// kept: the output dims (one operand: x's strides, offset = x's offset); reduced: the reduced dims (x's
// strides, offset 0). The output is contiguous over kept.
void reduce(ReduceOp op, const StridedCall& kept, const StridedCall& reduced, const Operand& out,
            const Operand& x);
// outer: every dim but the axis (one operand: x). Writes int64 indices (as doubles) in outer's order.
void arg_reduce(bool is_max, const StridedCall& outer, int64_t n, int64_t step, double* out, const Operand& x);
// outer: every dim but the axis (operands: out, x); lines of n elements, out_step / x_step apart.
void softmax(const StridedCall& outer, int64_t n, int64_t out_step, int64_t x_step, const Operand& out,
             const Operand& x, bool log);

// ── normalization (norm.cc): rows of `width` contiguous floats, `row_stride` apart ──────────────────
void rms_norm(int64_t rows, int64_t width, int64_t row_stride, const float* x, const float* weight, double eps,
              float* out, float* rstd);
void layer_norm(int64_t rows, int64_t width, int64_t row_stride, const float* x, const float* weight,
                const float* bias, double eps, float* out, float* mean, float* rstd);

// ── rotary embedding and SwiGLU (fused_elementwise.cc), float32 ─────────────────────────────────────
// rotary: `rows` is the layout of x's leading dims with operands (out, x, cos, sin); each of its elements
// is a row of 2·half floats, last_strides[k] apart in x, cos and sin (out's rows are contiguous).
void rotary(const StridedCall& rows, int64_t half, const int64_t* last_strides, float* out, const float* x,
            const float* cos, const float* sin, bool transposed);
// swiglu: operands (out, gate, up), out contiguous.
void swiglu(const StridedCall& call, float* out, const float* gate, const float* up);
// swiglu_backward: operands (out, dy, gate, up); out's offsets and strides address both outputs
// (contiguous, of one shape), either of which may be null.
void swiglu_backward(const StridedCall& call, float* dgate, float* dup, const float* dy, const float* gate,
                     const float* up);

// ── attention softmax (attention.cc), float32 ───────────────────────────────────────────────────────
// Scores [batch, heads, queries, keys] as contiguous rows of `keys` floats; the bias (when not null) is
// read at b·bias_batch_stride + h·bias_head_stride + i·bias_query_stride, its rows contiguous.
struct AttentionRows {
  int64_t batch, heads, queries, keys;
  int64_t bias_batch_stride, bias_head_stride, bias_query_stride;
};
// out = softmax(scale·x + bias) over the keys a query may see (with causal: keys 0 … keys − queries + i
// for query i), 0 for the others; out contiguous.
void attention_softmax(const AttentionRows& rows, const float* x, const float* bias, float scale, bool causal,
                       float* out);
// out = scale · p ∘ (g − Σ g∘p) per row of `keys` contiguous floats.
void attention_softmax_backward(int64_t rows, int64_t keys, const float* grad, const float* probs, float scale,
                                float* out);

// ── losses (loss.cc), float32 ───────────────────────────────────────────────────────────────────────
// out[r, :] = exp(log_probs[r, :])·g[r], then out[r, target[r]] −= g[r]; log_probs rows contiguous,
// row_stride apart; target holds int64 values as doubles (in range); out contiguous.
void softmax_cross_entropy_backward(int64_t rows, int64_t classes, const float* log_probs, int64_t row_stride,
                                    const float* grad, int64_t grad_stride, const double* target,
                                    int64_t target_stride, float* out);

// ── indexing (indexing.cc) ───────────────────────────────────────────────────────────────────────────
// gather: layout over the index's shape, operands (out, index, x with the axis stride set to 0); the
// element of x is at its operand offset + index · axis_stride.
void gather(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
            const Operand& x);
// scatter_add: layout over the index's shape, operands (out with the axis stride 0, index, src); out is
// zero-filled by the caller. float32 and float64.
void scatter_add(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
                 const Operand& src);
// index_select / index_add: outer (dims before the axis) and inner (dims after it) layouts with
// operands (out, x) / (out, src); picks[i] = index[index_offset + i · index_stride].
struct Picks {
  Operand index;
  int64_t offset;
  int64_t stride;
  int64_t count;
};
void index_select(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
                  int64_t x_axis_stride, const Operand& out, const Operand& x, const Picks& picks);
void index_add(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
               int64_t src_axis_stride, const Operand& out, const Operand& src, const Picks& picks);

// ── convolution (conv.cc) ───────────────────────────────────────────────────────────────────────────
// Up to three spatial dims (fewer are padded with size-1 dims by the caller).
struct ConvCall {
  int64_t batch, channels;
  int64_t spatial[3];
  int64_t kernel[3], stride[3], padding[3], dilation[3], out_spatial[3];
  // Input strides: batch, channel, spatial (im2col); the columns' strides: batch, row, column (col2im).
  int64_t strides[5];
  int64_t offset;
};
void im2col(const ConvCall& call, const Operand& out, const Operand& x);
void col2im(const ConvCall& call, const Operand& out, const Operand& columns);

}  // namespace lorakit
