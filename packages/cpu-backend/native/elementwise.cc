// Elementwise drivers: walk the rows of a coalesced layout, split across threads, and hand each row to a
// row kernel. float32 and float64 operands of one type go straight to the vectorized kernels; any other
// combination (integers, bools, mixed types) goes through a double buffer, which is exactly how the
// JavaScript reference computes (every JS number is a double) and then stores with typed-array semantics.
#include <algorithm>
#include <cstring>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

// Elements per thread below which a second thread is not worth waking: cheap ops are memory-bound and
// finish 32K elements in a few microseconds; transcendental ones take ten times longer per element.
constexpr int64_t kCheapGrain = int64_t{1} << 15;
constexpr int64_t kCostlyGrain = int64_t{1} << 12;

// The double-buffer path works in chunks that stay in L1.
constexpr int64_t kChunk = 256;

bool costly(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp:
    case UnaryOp::kLog:
    case UnaryOp::kSin:
    case UnaryOp::kCos:
    case UnaryOp::kTanh:
    case UnaryOp::kSigmoid:
    case UnaryOp::kSilu:
    case UnaryOp::kGelu:
    case UnaryOp::kGeluTanh:
    case UnaryOp::kErf:
    case UnaryOp::kPowScalar:
      return true;
    default:
      return false;
  }
}

template <class T>
T* at(const Operand& x, int64_t offset) {
  return static_cast<T*>(x.data) + offset;
}

// Runs row(offsets, length, strides) over the whole layout, threads splitting the logical elements.
template <int N, class F>
void run_rows(const StridedCall& call, int64_t grain, F&& row) {
  const int64_t total = call.layout.size();
  parallel_for(total, grain, [&](int64_t begin, int64_t end) {
    for_each_row<N>(call.layout, call.offsets, begin, end, row);
  });
}

}  // namespace

void unary(UnaryOp op, const StridedCall& call, const Operand& out, const Operand& x, const double* params) {
  const VectorKernels& vk = vector_kernels();
  const bool predicate = is_predicate(op);
  const int64_t grain = costly(op) ? kCostlyGrain : kCheapGrain;
  if (x.dtype == Dtype::kFloat32 && out.dtype == (predicate ? Dtype::kBool : Dtype::kFloat32)) {
    run_rows<2>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      if (predicate) {
        vk.predicate_f32(op, n, at<const float>(x, o[1]), s[1], at<uint8_t>(out, o[0]));
      } else {
        vk.unary_f32(op, n, at<const float>(x, o[1]), s[1], at<float>(out, o[0]), params);
      }
    });
    return;
  }
  if (x.dtype == Dtype::kFloat64 && out.dtype == (predicate ? Dtype::kBool : Dtype::kFloat64)) {
    run_rows<2>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      if (predicate) {
        vk.predicate_f64(op, n, at<const double>(x, o[1]), s[1], at<uint8_t>(out, o[0]));
      } else {
        vk.unary_f64(op, n, at<const double>(x, o[1]), s[1], at<double>(out, o[0]), params);
      }
    });
    return;
  }
  run_rows<2>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
    double in[kChunk];
    double result[kChunk];
    uint8_t flags[kChunk];
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - i);
      load_doubles(x, o[1] + i * s[1], s[1], m, in);
      if (predicate) {
        vk.predicate_f64(op, m, in, 1, flags);
        for (int64_t j = 0; j < m; ++j) result[j] = flags[j];
      } else {
        vk.unary_f64(op, m, in, 1, result, params);
      }
      store_doubles(out, o[0] + i * s[0], s[0], m, result, false);
    }
  });
}

void binary(BinaryOp op, const StridedCall& call, const Operand& out, const Operand& a, const Operand& b) {
  const VectorKernels& vk = vector_kernels();
  const bool comparison = is_comparison(op);
  const int64_t grain = op == BinaryOp::kPow ? kCostlyGrain : kCheapGrain;
  const Dtype result_type = comparison ? Dtype::kBool : a.dtype;
  if (a.dtype == b.dtype && out.dtype == result_type && a.dtype == Dtype::kFloat32) {
    run_rows<3>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      const float* pa = at<const float>(a, o[1]);
      const float* pb = at<const float>(b, o[2]);
      if (comparison) {
        vk.compare_f32(op, n, pa, s[1], pb, s[2], at<uint8_t>(out, o[0]));
      } else {
        vk.binary_f32(op, n, pa, s[1], pb, s[2], at<float>(out, o[0]));
      }
    });
    return;
  }
  if (a.dtype == b.dtype && out.dtype == result_type && a.dtype == Dtype::kFloat64) {
    run_rows<3>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      const double* pa = at<const double>(a, o[1]);
      const double* pb = at<const double>(b, o[2]);
      if (comparison) {
        vk.compare_f64(op, n, pa, s[1], pb, s[2], at<uint8_t>(out, o[0]));
      } else {
        vk.binary_f64(op, n, pa, s[1], pb, s[2], at<double>(out, o[0]));
      }
    });
    return;
  }
  run_rows<3>(call, grain, [&](const int64_t* o, int64_t n, const int64_t* s) {
    double left[kChunk];
    double right[kChunk];
    double result[kChunk];
    uint8_t flags[kChunk];
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - i);
      load_doubles(a, o[1] + i * s[1], s[1], m, left);
      load_doubles(b, o[2] + i * s[2], s[2], m, right);
      if (comparison) {
        vk.compare_f64(op, m, left, 1, right, 1, flags);
        for (int64_t j = 0; j < m; ++j) result[j] = flags[j];
      } else {
        vk.binary_f64(op, m, left, 1, right, 1, result);
      }
      store_doubles(out, o[0] + i * s[0], s[0], m, result, false);
    }
  });
}

void where(const StridedCall& call, const Operand& out, const Operand& condition, const Operand& a,
           const Operand& b) {
  const VectorKernels& vk = vector_kernels();
  if (a.dtype == b.dtype && a.dtype == out.dtype && a.dtype == Dtype::kFloat32) {
    run_rows<4>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      vk.where_f32(n, at<const uint8_t>(condition, o[1]), s[1], at<const float>(a, o[2]), s[2],
                   at<const float>(b, o[3]), s[3], at<float>(out, o[0]));
    });
    return;
  }
  if (a.dtype == b.dtype && a.dtype == out.dtype && a.dtype == Dtype::kFloat64) {
    run_rows<4>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      vk.where_f64(n, at<const uint8_t>(condition, o[1]), s[1], at<const double>(a, o[2]), s[2],
                   at<const double>(b, o[3]), s[3], at<double>(out, o[0]));
    });
    return;
  }
  run_rows<4>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
    double left[kChunk];
    double right[kChunk];
    double result[kChunk];
    const uint8_t* c = at<const uint8_t>(condition, o[1]);
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - i);
      load_doubles(a, o[2] + i * s[2], s[2], m, left);
      load_doubles(b, o[3] + i * s[3], s[3], m, right);
      for (int64_t j = 0; j < m; ++j) result[j] = c[(i + j) * s[1]] ? left[j] : right[j];
      store_doubles(out, o[0] + i * s[0], s[0], m, result, false);
    }
  });
}

namespace {

// Bit copies for types whose cast to themselves is the identity.
template <class T>
void copy_row(int64_t n, const T* x, int64_t sx, T* out, int64_t so) {
  if (sx == 1 && so == 1) {
    std::memcpy(out, x, static_cast<size_t>(n) * sizeof(T));
  } else if (so == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i * sx];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * so] = x[i * sx];
  }
}

template <class From, class To>
void convert_row(int64_t n, const From* x, int64_t sx, To* out, int64_t so) {
  if (sx == 1 && so == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<To>(x[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * so] = static_cast<To>(x[i * sx]);
  }
}

}  // namespace

void convert_copy(const StridedCall& call, const Operand& out, const Operand& x) {
  // int64 and bool casts are not the identity even to themselves (truncation, != 0), so only the three
  // plain types are bit-copied.
  const bool same = x.dtype == out.dtype &&
                    (x.dtype == Dtype::kFloat32 || x.dtype == Dtype::kFloat64 || x.dtype == Dtype::kInt32);
  if (same) {
    run_rows<2>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      if (element_size(x.dtype) == 8) {
        copy_row(n, at<const uint64_t>(x, o[1]), s[1], at<uint64_t>(out, o[0]), s[0]);
      } else {
        copy_row(n, at<const uint32_t>(x, o[1]), s[1], at<uint32_t>(out, o[0]), s[0]);
      }
    });
    return;
  }
  if (x.dtype == Dtype::kFloat32 && out.dtype == Dtype::kFloat64) {
    run_rows<2>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      convert_row(n, at<const float>(x, o[1]), s[1], at<double>(out, o[0]), s[0]);
    });
    return;
  }
  if (x.dtype == Dtype::kFloat64 && out.dtype == Dtype::kFloat32) {
    run_rows<2>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
      convert_row(n, at<const double>(x, o[1]), s[1], at<float>(out, o[0]), s[0]);
    });
    return;
  }
  run_rows<2>(call, kCheapGrain, [&](const int64_t* o, int64_t n, const int64_t* s) {
    double buffer[kChunk];
    for (int64_t i = 0; i < n; i += kChunk) {
      const int64_t m = std::min(kChunk, n - i);
      load_doubles(x, o[1] + i * s[1], s[1], m, buffer);
      store_doubles(out, o[0] + i * s[0], s[0], m, buffer, true);
    }
  });
}

}  // namespace lorakit
