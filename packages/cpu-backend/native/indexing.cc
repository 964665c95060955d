// Gather, scatter-add, index-select (embedding lookup) and index-add (embedding backward). Indices are
// int32 or int64 (held as doubles) and already bounds-checked by the tensor ops.
#include <cstring>

#include "parallel.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

constexpr int64_t kGrain = int64_t{1} << 15;

inline int64_t index_at(const Operand& index, int64_t offset) {
  return index.dtype == Dtype::kInt32 ? static_cast<const int32_t*>(index.data)[offset]
                                      : static_cast<int64_t>(static_cast<const double*>(index.data)[offset]);
}

// Element copies by size: gathering moves values, so the bits are all that matter.
template <class T>
void gather_typed(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
                  const Operand& x) {
  T* o = static_cast<T*>(out.data);
  const T* p = static_cast<const T*>(x.data);
  parallel_for(call.layout.size(), kGrain, [&](int64_t begin, int64_t end) {
    for_each_row<3>(call.layout, call.offsets, begin, end, [&](const int64_t* off, int64_t n, const int64_t* s) {
      for (int64_t i = 0; i < n; ++i) {
        const int64_t at = index_at(index, off[1] + i * s[1]);
        o[off[0] + i * s[0]] = p[off[2] + i * s[2] + at * axis_stride];
      }
    });
  });
}

template <class T>
void scatter_add_typed(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
                       const Operand& src) {
  // Serial: several indices may hit one element, and the order of the additions is the reference's.
  T* o = static_cast<T*>(out.data);
  const T* p = static_cast<const T*>(src.data);
  for_each_row<3>(call.layout, call.offsets, 0, call.layout.size(),
                  [&](const int64_t* off, int64_t n, const int64_t* s) {
                    for (int64_t i = 0; i < n; ++i) {
                      const int64_t at = index_at(index, off[1] + i * s[1]);
                      o[off[0] + i * s[0] + at * axis_stride] += p[off[2] + i * s[2]];
                    }
                  });
}

// Copies the block `inner` (operands: out, x) from x at xo to out at oo.
template <class T>
void copy_block(const StridedCall& inner, T* out, int64_t oo, const T* x, int64_t xo) {
  const int64_t base[2] = {oo + inner.offsets[0], xo + inner.offsets[1]};
  for_each_row<2>(inner.layout, base, 0, inner.layout.size(), [&](const int64_t* off, int64_t n, const int64_t* s) {
    if (s[0] == 1 && s[1] == 1) {
      std::memcpy(out + off[0], x + off[1], static_cast<size_t>(n) * sizeof(T));
    } else {
      for (int64_t i = 0; i < n; ++i) out[off[0] + i * s[0]] = x[off[1] + i * s[1]];
    }
  });
}

template <class T>
void add_block(const StridedCall& inner, T* out, int64_t oo, const T* x, int64_t xo) {
  const int64_t base[2] = {oo + inner.offsets[0], xo + inner.offsets[1]};
  for_each_row<2>(inner.layout, base, 0, inner.layout.size(), [&](const int64_t* off, int64_t n, const int64_t* s) {
    T* po = out + off[0];
    const T* px = x + off[1];
    if (s[0] == 1 && s[1] == 1) {
      for (int64_t i = 0; i < n; ++i) po[i] += px[i];
    } else {
      for (int64_t i = 0; i < n; ++i) po[i * s[0]] += px[i * s[1]];
    }
  });
}

template <class T>
void index_select_typed(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
                        int64_t x_axis_stride, const Operand& out, const Operand& x, const Picks& picks) {
  T* o = static_cast<T*>(out.data);
  const T* p = static_cast<const T*>(x.data);
  const int64_t block = inner.layout.size();
  const int64_t units = outer.layout.size() * picks.count;
  parallel_for(units, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, block)), [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t row = unit / picks.count;
      const int64_t i = unit % picks.count;
      int64_t bases[2] = {outer.offsets[0], outer.offsets[1]};
      for_each_row<2>(outer.layout, outer.offsets, row, row + 1, [&](const int64_t* off, int64_t, const int64_t*) {
        bases[0] = off[0];
        bases[1] = off[1];
      });
      const int64_t at = index_at(picks.index, picks.offset + i * picks.stride);
      copy_block(inner, o, bases[0] + i * out_axis_stride, p, bases[1] + at * x_axis_stride);
    }
  });
}

template <class T>
void index_add_typed(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
                     int64_t src_axis_stride, const Operand& out, const Operand& src, const Picks& picks) {
  // Serial over the picks (repeated token ids add into one row), in the reference's order.
  T* o = static_cast<T*>(out.data);
  const T* p = static_cast<const T*>(src.data);
  for_each_row<2>(outer.layout, outer.offsets, 0, outer.layout.size(),
                  [&](const int64_t* off, int64_t n, const int64_t* s) {
                    for (int64_t r = 0; r < n; ++r) {
                      for (int64_t i = 0; i < picks.count; ++i) {
                        const int64_t at = index_at(picks.index, picks.offset + i * picks.stride);
                        add_block(inner, o, off[0] + r * s[0] + at * out_axis_stride, p,
                                  off[1] + r * s[1] + i * src_axis_stride);
                      }
                    }
                  });
}

}  // namespace

void gather(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
            const Operand& x) {
  switch (element_size(x.dtype)) {
    case 8:
      return gather_typed<uint64_t>(call, axis_stride, out, index, x);
    case 4:
      return gather_typed<uint32_t>(call, axis_stride, out, index, x);
    default:
      return gather_typed<uint8_t>(call, axis_stride, out, index, x);
  }
}

void scatter_add(const StridedCall& call, int64_t axis_stride, const Operand& out, const Operand& index,
                 const Operand& src) {
  if (out.dtype == Dtype::kFloat32) return scatter_add_typed<float>(call, axis_stride, out, index, src);
  return scatter_add_typed<double>(call, axis_stride, out, index, src);
}

void index_select(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
                  int64_t x_axis_stride, const Operand& out, const Operand& x, const Picks& picks) {
  switch (element_size(x.dtype)) {
    case 8:
      return index_select_typed<uint64_t>(outer, inner, out_axis_stride, x_axis_stride, out, x, picks);
    case 4:
      return index_select_typed<uint32_t>(outer, inner, out_axis_stride, x_axis_stride, out, x, picks);
    default:
      return index_select_typed<uint8_t>(outer, inner, out_axis_stride, x_axis_stride, out, x, picks);
  }
}

void index_add(const StridedCall& outer, const StridedCall& inner, int64_t out_axis_stride,
               int64_t src_axis_stride, const Operand& out, const Operand& src, const Picks& picks) {
  if (out.dtype == Dtype::kFloat32) {
    return index_add_typed<float>(outer, inner, out_axis_stride, src_axis_stride, out, src, picks);
  }
  return index_add_typed<double>(outer, inner, out_axis_stride, src_axis_stride, out, src, picks);
}

}  // namespace lorakit
