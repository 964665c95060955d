// Reductions, arg-reductions and softmax. Sums and products accumulate in double, as the JavaScript
// reference does; max and min give NaN when the reduced block holds one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

constexpr int64_t kGrain = int64_t{1} << 15;  // elements read per thread, at least
constexpr int64_t kChunk = 256;
// Columns accumulated at once by the column form (its accumulators live on the stack).
constexpr int64_t kColumns = 512;

double initial(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return 0.0;
    case ReduceOp::kProd:
      return 1.0;
    case ReduceOp::kMax:
      return -std::numeric_limits<double>::infinity();
    case ReduceOp::kMin:
      return std::numeric_limits<double>::infinity();
    default:
      return 0.0;
  }
}

// Folds one row of any dtype into acc.
void reduce_any_row(const VectorKernels& vk, ReduceOp op, const Operand& x, int64_t offset, int64_t n,
                    int64_t stride, double* acc, bool* nan) {
  switch (x.dtype) {
    case Dtype::kFloat32:
      vk.reduce_f32(op, n, static_cast<const float*>(x.data) + offset, stride, acc, nan);
      return;
    case Dtype::kFloat64:
    case Dtype::kInt64:
      vk.reduce_f64(op, n, static_cast<const double*>(x.data) + offset, stride, acc, nan);
      return;
    default: {
      double buffer[kChunk];
      for (int64_t i = 0; i < n; i += kChunk) {
        const int64_t m = std::min(kChunk, n - i);
        load_doubles(x, offset + i * stride, stride, m, buffer);
        vk.reduce_f64(op, m, buffer, 1, acc, nan);
      }
      return;
    }
  }
}

void accumulate_any(const VectorKernels& vk, ReduceOp op, const Operand& x, int64_t offset, int64_t n,
                    double* acc, uint8_t* nan) {
  switch (x.dtype) {
    case Dtype::kFloat32:
      vk.accumulate_f32(op, n, static_cast<const float*>(x.data) + offset, acc, nan);
      return;
    case Dtype::kFloat64:
    case Dtype::kInt64:
      vk.accumulate_f64(op, n, static_cast<const double*>(x.data) + offset, acc, nan);
      return;
    default: {
      double buffer[kColumns];
      load_doubles(x, offset, 1, n, buffer);
      vk.accumulate_f64(op, n, buffer, acc, nan);
      return;
    }
  }
}

// The reduction of the block of `reduced` starting at element `base`.
double reduce_block(const VectorKernels& vk, ReduceOp op, const Strided& reduced, const Operand& x, int64_t base,
                    int64_t begin, int64_t end, bool* nan) {
  double acc = initial(op);
  for_each_row<1>(reduced, &base, begin, end, [&](const int64_t* o, int64_t n, const int64_t* s) {
    reduce_any_row(vk, op, x, o[0], n, s[0], &acc, nan);
  });
  return acc;
}

double combine(ReduceOp op, double a, double b) {
  switch (op) {
    case ReduceOp::kSum:
      return a + b;
    case ReduceOp::kProd:
      return a * b;
    case ReduceOp::kMax:
      return b > a ? b : a;
    case ReduceOp::kMin:
      return b < a ? b : a;
    default:
      return a;
  }
}

}  // namespace

void reduce(ReduceOp op, const StridedCall& kept, const StridedCall& reduced, const Operand& out,
            const Operand& x) {
  const VectorKernels& vk = vector_kernels();
  const int64_t outputs = kept.layout.size();
  const int64_t block = reduced.layout.size();
  if (outputs == 0) return;
  auto finish = [&](int64_t i, double value, bool nan) {
    const double v = nan ? std::numeric_limits<double>::quiet_NaN() : value;
    store_doubles(out, i, 1, 1, &v, false);
  };
  if (block == 0) {
    for (int64_t i = 0; i < outputs; ++i) finish(i, initial(op), false);
    return;
  }

  // One output: split the block across threads and combine the partial results.
  if (outputs == 1) {
    const int threads = max_parallel_threads();
    std::vector<double> partial(static_cast<size_t>(threads), initial(op));
    std::vector<uint8_t> nans(static_cast<size_t>(threads), 0);
    parallel_for_threads(block, kGrain, [&](int tid, int64_t begin, int64_t end) {
      bool nan = false;
      partial[static_cast<size_t>(tid)] =
          reduce_block(vk, op, reduced.layout, x, kept.offsets[0], begin, end, &nan);
      nans[static_cast<size_t>(tid)] = nan ? 1 : 0;
    });
    double value = initial(op);
    bool nan = false;
    for (int t = 0; t < threads; ++t) {
      value = combine(op, value, partial[static_cast<size_t>(t)]);
      nan = nan || nans[static_cast<size_t>(t)] != 0;
    }
    finish(0, value, nan);
    return;
  }

  const Strided& k = kept.layout;
  const int last = k.rank - 1;
  const bool reduced_rows_contiguous =
      reduced.layout.rank > 0 && reduced.layout.strides[0][reduced.layout.rank - 1] == 1;
  const bool kept_columns_contiguous = k.rank > 0 && k.strides[0][last] == 1 && k.shape[last] >= 4;
  if (kept_columns_contiguous && !reduced_rows_contiguous) {
    // Column form (e.g. a sum over the leading dims of [tokens, features]): for each kept row, run
    // through the reduced positions adding whole contiguous runs of kept columns into accumulators.
    const int64_t width = k.shape[last];
    const int64_t chunks_per_row = (width + kColumns - 1) / kColumns;
    const int64_t units = outputs / width * chunks_per_row;
    const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, block * std::min(width, kColumns)));
    Strided rows = k;  // the kept dims without the columns
    rows.rank = last;
    parallel_for(units, grain, [&](int64_t begin, int64_t end) {
      double acc[kColumns];
      uint8_t nan[kColumns];
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t row = unit / chunks_per_row;
        const int64_t c0 = (unit % chunks_per_row) * kColumns;
        const int64_t columns = std::min(kColumns, width - c0);
        int64_t base = kept.offsets[0] + c0;
        for_each_row<1>(rows, &kept.offsets[0], row, row + 1,
                        [&](const int64_t* o, int64_t, const int64_t*) { base = o[0] + c0; });
        std::fill(acc, acc + columns, initial(op));
        std::fill(nan, nan + columns, uint8_t{0});
        for_each_row<1>(reduced.layout, &base, 0, block, [&](const int64_t* o, int64_t n, const int64_t* s) {
          for (int64_t i = 0; i < n; ++i) accumulate_any(vk, op, x, o[0] + i * s[0], columns, acc, nan);
        });
        for (int64_t j = 0; j < columns; ++j) finish(row * width + c0 + j, acc[j], nan[j] != 0);
      }
    });
    return;
  }

  // Row form: each output reduces its own block.
  const int64_t grain = std::max<int64_t>(1, kGrain / block);
  parallel_for(outputs, grain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for_each_row<1>(k, kept.offsets, begin, end, [&](const int64_t* o, int64_t n, const int64_t* s) {
      for (int64_t j = 0; j < n; ++j, ++i) {
        bool nan = false;
        const double value = reduce_block(vk, op, reduced.layout, x, o[0] + j * s[0], 0, block, &nan);
        finish(i, value, nan);
      }
    });
  });
}

namespace {

template <class T>
int64_t arg_line(bool is_max, const T* p, int64_t n, int64_t step) {
  // First occurrence wins; a NaN wins at once (the reference's argmax/argmin).
  T best = p[0];
  if (best != best) return 0;
  int64_t index = 0;
  for (int64_t j = 1; j < n; ++j) {
    const T v = p[j * step];
    if (v != v) return j;
    if (is_max ? v > best : v < best) {
      best = v;
      index = j;
    }
  }
  return index;
}

int64_t arg_any(bool is_max, const Operand& x, int64_t offset, int64_t n, int64_t step) {
  switch (x.dtype) {
    case Dtype::kFloat32:
      return arg_line(is_max, static_cast<const float*>(x.data) + offset, n, step);
    case Dtype::kFloat64:
    case Dtype::kInt64:
      return arg_line(is_max, static_cast<const double*>(x.data) + offset, n, step);
    case Dtype::kInt32:
      return arg_line(is_max, static_cast<const int32_t*>(x.data) + offset, n, step);
    case Dtype::kBool:
      return arg_line(is_max, static_cast<const uint8_t*>(x.data) + offset, n, step);
  }
  return 0;
}

}  // namespace

void arg_reduce(bool is_max, const StridedCall& outer, int64_t n, int64_t step, double* out, const Operand& x) {
  const int64_t lines = outer.layout.size();
  const int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n));
  parallel_for(lines, grain, [&](int64_t begin, int64_t end) {
    int64_t i = begin;
    for_each_row<1>(outer.layout, outer.offsets, begin, end, [&](const int64_t* o, int64_t count, const int64_t* s) {
      for (int64_t j = 0; j < count; ++j, ++i) {
        out[i] = static_cast<double>(arg_any(is_max, x, o[0] + j * s[0], n, step));
      }
    });
  });
}

void softmax(const StridedCall& outer, int64_t n, int64_t out_step, int64_t x_step, const Operand& out,
             const Operand& x, bool log) {
  const VectorKernels& vk = vector_kernels();
  const int64_t lines = outer.layout.size();
  const bool is_f32 = x.dtype == Dtype::kFloat32;
  const int64_t grain = std::max<int64_t>(1, (kGrain / 8) / std::max<int64_t>(1, n));
  const bool direct = out_step == 1 && x_step == 1;
  // Strided lines are gathered into per-thread scratch, processed, and scattered back.
  std::vector<double> scratch;
  if (!direct) scratch.resize(static_cast<size_t>(2 * n * max_parallel_threads()));
  parallel_for_threads(lines, grain, [&](int tid, int64_t begin, int64_t end) {
    double* line_in = direct ? nullptr : scratch.data() + 2 * n * tid;
    double* line_out = direct ? nullptr : line_in + n;
    for_each_row<2>(outer.layout, outer.offsets, begin, end, [&](const int64_t* o, int64_t count, const int64_t* s) {
      for (int64_t j = 0; j < count; ++j) {
        const int64_t po = o[0] + j * s[0];
        const int64_t px = o[1] + j * s[1];
        if (is_f32) {
          const float* xi = static_cast<const float*>(x.data) + px;
          float* oi = static_cast<float*>(out.data) + po;
          if (direct) {
            vk.softmax_f32(n, xi, oi, log);
          } else {
            float* fin = reinterpret_cast<float*>(line_in);
            float* fout = reinterpret_cast<float*>(line_out);
            for (int64_t t = 0; t < n; ++t) fin[t] = xi[t * x_step];
            vk.softmax_f32(n, fin, fout, log);
            for (int64_t t = 0; t < n; ++t) oi[t * out_step] = fout[t];
          }
        } else {
          const double* xi = static_cast<const double*>(x.data) + px;
          double* oi = static_cast<double*>(out.data) + po;
          if (direct) {
            vk.softmax_f64(n, xi, oi, log);
          } else {
            for (int64_t t = 0; t < n; ++t) line_in[t] = xi[t * x_step];
            vk.softmax_f64(n, line_in, line_out, log);
            for (int64_t t = 0; t < n; ++t) oi[t * out_step] = line_out[t];
          }
        }
      }
    });
  });
}

}  // namespace lorakit
