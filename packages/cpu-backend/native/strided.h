// Strided iteration for the tensor kernels. Operands share one logical shape and each has its own
// strides (0 on broadcast dims); TypeScript has already merged the dims that are contiguous for every
// operand (src/backend/layout.ts), so the innermost row is as long as it can be.
#pragma once

#include <cstdint>

namespace lorakit {

constexpr int kMaxRank = 16;
constexpr int kMaxOperands = 4;

struct Strided {
  int rank = 0;
  int operands = 0;
  int64_t shape[kMaxRank] = {};
  int64_t strides[kMaxOperands][kMaxRank] = {};

  int64_t size() const {
    int64_t s = 1;
    for (int d = 0; d < rank; ++d) s *= shape[d];
    return s;
  }
  int64_t inner() const { return rank == 0 ? 1 : shape[rank - 1]; }
};

// Calls row(offsets, length, inner_strides) for the logical elements begin … end − 1 in row-major order,
// one call per (piece of an) innermost row; offsets[k] is operand k's element offset of the row's first
// element relative to base[k]. A rank-0 layout is one element.
template <int N, class F>
void for_each_row(const Strided& s, const int64_t* base, int64_t begin, int64_t end, F&& row) {
  int64_t offsets[N];
  int64_t inner[N];
  if (s.rank == 0) {
    for (int k = 0; k < N; ++k) {
      offsets[k] = base[k];
      inner[k] = 0;
    }
    if (begin < end) row(offsets, int64_t{1}, inner);
    return;
  }
  const int last = s.rank - 1;
  int64_t index[kMaxRank];
  int64_t rest = begin;
  for (int d = last; d >= 0; --d) {
    index[d] = rest % s.shape[d];
    rest /= s.shape[d];
  }
  for (int k = 0; k < N; ++k) {
    offsets[k] = base[k];
    for (int d = 0; d < s.rank; ++d) offsets[k] += index[d] * s.strides[k][d];
    inner[k] = s.strides[k][last];
  }
  int64_t position = begin;
  while (position < end) {
    const int64_t length = s.shape[last] - index[last] < end - position ? s.shape[last] - index[last]
                                                                         : end - position;
    row(offsets, length, inner);
    position += length;
    if (position >= end) break;
    // Step to the start of the next row.
    for (int k = 0; k < N; ++k) offsets[k] += length * inner[k];
    index[last] += length;
    for (int d = last; d > 0 && index[d] == s.shape[d]; --d) {
      for (int k = 0; k < N; ++k) offsets[k] += s.strides[k][d - 1] - s.shape[d] * s.strides[k][d];
      index[d] = 0;
      ++index[d - 1];
    }
  }
}

}  // namespace lorakit
