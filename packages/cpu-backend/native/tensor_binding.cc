// JavaScript bindings of the tensor kernels (tensor_ops.h). Arguments arrive validated and laid out by
// src/backend/*.ts: typed arrays, small integers, and a Float64Array "layout" per strided call:
//   [rank, operands, shape × rank, strides of operand 0 × rank, …, offset of each operand]
// Nothing here checks shapes; this file only unpacks.
#include <napi.h>

#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "linalg.h"
#include "tensor_binding.h"
#include "tensor_ops.h"

namespace lorakit {
namespace {

// The element pointer of a typed array (N-API already adds its byte offset).
void* data_of(const Napi::Value& value) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  napi_get_typedarray_info(value.Env(), value, &type, &length, &data, &buffer, &byte_offset);
  return data;
}

const double* doubles_of(const Napi::Value& value) { return static_cast<const double*>(data_of(value)); }

int64_t integer(const Napi::Value& value) { return value.As<Napi::Number>().Int64Value(); }

Dtype dtype(const Napi::Value& value) { return static_cast<Dtype>(value.As<Napi::Number>().Int32Value()); }

Operand operand(const Napi::CallbackInfo& info, size_t array, size_t type) {
  return Operand{dtype(info[type]), data_of(info[array])};
}

StridedCall read_call(const Napi::Value& value) {
  const double* meta = doubles_of(value);
  StridedCall call;
  call.layout.rank = static_cast<int>(meta[0]);
  call.layout.operands = static_cast<int>(meta[1]);
  const int rank = call.layout.rank;
  const int operands = call.layout.operands;
  int p = 2;
  for (int d = 0; d < rank; ++d) call.layout.shape[d] = static_cast<int64_t>(meta[p++]);
  for (int k = 0; k < operands; ++k) {
    for (int d = 0; d < rank; ++d) call.layout.strides[k][d] = static_cast<int64_t>(meta[p++]);
  }
  for (int k = 0; k < operands; ++k) call.offsets[k] = static_cast<int64_t>(meta[p++]);
  return call;
}

Napi::Value Done(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// unary(op, layout, out, outDtype, x, xDtype, p0, p1)
Napi::Value Unary(const Napi::CallbackInfo& info) {
  const double params[2] = {info[6].As<Napi::Number>().DoubleValue(), info[7].As<Napi::Number>().DoubleValue()};
  unary(static_cast<UnaryOp>(info[0].As<Napi::Number>().Int32Value()), read_call(info[1]), operand(info, 2, 3),
        operand(info, 4, 5), params);
  return Done(info);
}

// binary(op, layout, out, outDtype, a, aDtype, b, bDtype)
Napi::Value Binary(const Napi::CallbackInfo& info) {
  binary(static_cast<BinaryOp>(info[0].As<Napi::Number>().Int32Value()), read_call(info[1]), operand(info, 2, 3),
         operand(info, 4, 5), operand(info, 6, 7));
  return Done(info);
}

// where(layout, out, outDtype, condition, a, aDtype, b, bDtype)
Napi::Value Where(const Napi::CallbackInfo& info) {
  where(read_call(info[0]), operand(info, 1, 2), Operand{Dtype::kBool, data_of(info[3])}, operand(info, 4, 5),
        operand(info, 6, 7));
  return Done(info);
}

// convert(layout, out, outDtype, x, xDtype): copy and assign
Napi::Value Convert(const Napi::CallbackInfo& info) {
  convert_copy(read_call(info[0]), operand(info, 1, 2), operand(info, 3, 4));
  return Done(info);
}

// reduce(op, kept, reduced, out, outDtype, x, xDtype)
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  try {
    reduce(static_cast<ReduceOp>(info[0].As<Napi::Number>().Int32Value()), read_call(info[1]), read_call(info[2]),
           operand(info, 3, 4), operand(info, 5, 6));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[reduce] out of memory for partial results");
  }
  return Done(info);
}

// argReduce(isMax, outer, n, step, out, x, xDtype)
Napi::Value ArgReduce(const Napi::CallbackInfo& info) {
  arg_reduce(info[0].As<Napi::Boolean>().Value(), read_call(info[1]), integer(info[2]), integer(info[3]),
             static_cast<double*>(data_of(info[4])), operand(info, 5, 6));
  return Done(info);
}

// softmax(outer, n, outStep, xStep, out, x, dtype, log)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[6]);
  try {
    softmax(read_call(info[0]), integer(info[1]), integer(info[2]), integer(info[3]),
            Operand{type, data_of(info[4])}, Operand{type, data_of(info[5])}, info[7].As<Napi::Boolean>().Value());
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[softmax] out of memory for line buffers");
  }
  return Done(info);
}

const float* optional_floats(const Napi::Value& array, const Napi::Value& offset) {
  if (array.IsNull() || array.IsUndefined()) return nullptr;
  return static_cast<const float*>(data_of(array)) + integer(offset);
}

// rmsNorm(rows, width, rowStride, x, xOffset, weight | null, weightOffset, eps, out, rstd)
Napi::Value RmsNorm(const Napi::CallbackInfo& info) {
  rms_norm(integer(info[0]), integer(info[1]), integer(info[2]),
           static_cast<const float*>(data_of(info[3])) + integer(info[4]), optional_floats(info[5], info[6]),
           info[7].As<Napi::Number>().DoubleValue(), static_cast<float*>(data_of(info[8])),
           static_cast<float*>(data_of(info[9])));
  return Done(info);
}

// layerNorm(rows, width, rowStride, x, xOffset, weight | null, weightOffset, bias | null, biasOffset, eps,
//           out, mean, rstd)
Napi::Value LayerNorm(const Napi::CallbackInfo& info) {
  layer_norm(integer(info[0]), integer(info[1]), integer(info[2]),
             static_cast<const float*>(data_of(info[3])) + integer(info[4]), optional_floats(info[5], info[6]),
             optional_floats(info[7], info[8]), info[9].As<Napi::Number>().DoubleValue(),
             static_cast<float*>(data_of(info[10])), static_cast<float*>(data_of(info[11])),
             static_cast<float*>(data_of(info[12])));
  return Done(info);
}

float* optional_out(const Napi::Value& array) {
  if (array.IsNull() || array.IsUndefined()) return nullptr;
  return static_cast<float*>(data_of(array));
}

// rotary(rows, half, xStride, cosStride, sinStride, out, x, cos, sin, transposed)
Napi::Value Rotary(const Napi::CallbackInfo& info) {
  const int64_t last_strides[3] = {integer(info[2]), integer(info[3]), integer(info[4])};
  rotary(read_call(info[0]), integer(info[1]), last_strides, static_cast<float*>(data_of(info[5])),
         static_cast<const float*>(data_of(info[6])), static_cast<const float*>(data_of(info[7])),
         static_cast<const float*>(data_of(info[8])), info[9].As<Napi::Boolean>().Value());
  return Done(info);
}

// swiglu(layout, out, gate, up)
Napi::Value Swiglu(const Napi::CallbackInfo& info) {
  swiglu(read_call(info[0]), static_cast<float*>(data_of(info[1])), static_cast<const float*>(data_of(info[2])),
         static_cast<const float*>(data_of(info[3])));
  return Done(info);
}

// swigluBackward(layout, dGate | null, dUp | null, grad, gate, up)
Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  swiglu_backward(read_call(info[0]), optional_out(info[1]), optional_out(info[2]),
                  static_cast<const float*>(data_of(info[3])), static_cast<const float*>(data_of(info[4])),
                  static_cast<const float*>(data_of(info[5])));
  return Done(info);
}

// attentionSoftmax(batch, heads, queries, keys, x, xOffset, bias | null, biasOffset, biasBatchStride,
//                  biasHeadStride, biasQueryStride, scale, causal, out)
Napi::Value AttentionSoftmax(const Napi::CallbackInfo& info) {
  const AttentionRows rows{integer(info[0]), integer(info[1]), integer(info[2]), integer(info[3]),
                           integer(info[8]), integer(info[9]),  integer(info[10])};
  attention_softmax(rows, static_cast<const float*>(data_of(info[4])) + integer(info[5]),
                    optional_floats(info[6], info[7]), static_cast<float>(info[11].As<Napi::Number>().DoubleValue()),
                    info[12].As<Napi::Boolean>().Value(), static_cast<float*>(data_of(info[13])));
  return Done(info);
}

// attentionSoftmaxBackward(rows, keys, grad, gradOffset, probs, probsOffset, scale, out)
Napi::Value AttentionSoftmaxBackward(const Napi::CallbackInfo& info) {
  attention_softmax_backward(integer(info[0]), integer(info[1]),
                             static_cast<const float*>(data_of(info[2])) + integer(info[3]),
                             static_cast<const float*>(data_of(info[4])) + integer(info[5]),
                             static_cast<float>(info[6].As<Napi::Number>().DoubleValue()),
                             static_cast<float*>(data_of(info[7])));
  return Done(info);
}

// softmaxCrossEntropyBackward(rows, classes, logProbs, logProbsOffset, rowStride, grad, gradOffset,
//                             gradStride, target, targetOffset, targetStride, out)
Napi::Value SoftmaxCrossEntropyBackward(const Napi::CallbackInfo& info) {
  softmax_cross_entropy_backward(integer(info[0]), integer(info[1]),
                                 static_cast<const float*>(data_of(info[2])) + integer(info[3]), integer(info[4]),
                                 static_cast<const float*>(data_of(info[5])) + integer(info[6]), integer(info[7]),
                                 doubles_of(info[8]) + integer(info[9]), integer(info[10]),
                                 static_cast<float*>(data_of(info[11])));
  return Done(info);
}

// gather(layout, axisStride, out, x, dtype, index, indexDtype)
Napi::Value Gather(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[4]);
  gather(read_call(info[0]), integer(info[1]), Operand{type, data_of(info[2])}, operand(info, 5, 6),
         Operand{type, data_of(info[3])});
  return Done(info);
}

// scatterAdd(layout, axisStride, out, dtype, index, indexDtype, src)
Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[3]);
  scatter_add(read_call(info[0]), integer(info[1]), Operand{type, data_of(info[2])}, operand(info, 4, 5),
              Operand{type, data_of(info[6])});
  return Done(info);
}

Picks read_picks(const Napi::CallbackInfo& info, size_t first) {
  return Picks{operand(info, first, first + 1), integer(info[first + 2]), integer(info[first + 3]),
               integer(info[first + 4])};
}

// indexSelect(outer, inner, outAxisStride, xAxisStride, out, x, dtype, index, indexDtype, indexOffset,
//             indexStride, count)
Napi::Value IndexSelect(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[6]);
  index_select(read_call(info[0]), read_call(info[1]), integer(info[2]), integer(info[3]),
               Operand{type, data_of(info[4])}, Operand{type, data_of(info[5])}, read_picks(info, 7));
  return Done(info);
}

// indexAdd(outer, inner, outAxisStride, srcAxisStride, out, src, dtype, index, indexDtype, indexOffset,
//          indexStride, count)
Napi::Value IndexAdd(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[6]);
  index_add(read_call(info[0]), read_call(info[1]), integer(info[2]), integer(info[3]),
            Operand{type, data_of(info[4])}, Operand{type, data_of(info[5])}, read_picks(info, 7));
  return Done(info);
}

// geometry: [batch, channels, spatial × 3, kernel × 3, stride × 3, padding × 3, dilation × 3,
//            outSpatial × 3, strides × 5, offset]
ConvCall read_conv(const Napi::Value& value) {
  const double* g = doubles_of(value);
  ConvCall call;
  int p = 0;
  call.batch = static_cast<int64_t>(g[p++]);
  call.channels = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.spatial) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.kernel) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.stride) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.padding) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.dilation) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.out_spatial) v = static_cast<int64_t>(g[p++]);
  for (int64_t& v : call.strides) v = static_cast<int64_t>(g[p++]);
  call.offset = static_cast<int64_t>(g[p++]);
  return call;
}

// im2col(geometry, out, x, dtype) / col2im(geometry, out, columns, dtype)
Napi::Value Im2col(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[3]);
  im2col(read_conv(info[0]), Operand{type, data_of(info[1])}, Operand{type, data_of(info[2])});
  return Done(info);
}

Napi::Value Col2im(const Napi::CallbackInfo& info) {
  const Dtype type = dtype(info[3]);
  col2im(read_conv(info[0]), Operand{type, data_of(info[1])}, Operand{type, data_of(info[2])});
  return Done(info);
}

// svd(a, m, n, full, maxSweeps, u, s, vh) -> 0, or 1 when the QR iteration did not converge
Napi::Value Svd(const Napi::CallbackInfo& info) {
  try {
    const int status = svd_f64(doubles_of(info[0]), integer(info[1]), integer(info[2]),
                               info[3].As<Napi::Boolean>().Value(), static_cast<int>(integer(info[4])),
                               static_cast<double*>(data_of(info[5])), static_cast<double*>(data_of(info[6])),
                               static_cast<double*>(data_of(info[7])));
    return Napi::Number::New(info.Env(), status);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[svd] out of memory for the working matrices");
  }
}

// qr(a, m, n, q, r)
Napi::Value Qr(const Napi::CallbackInfo& info) {
  try {
    qr_f64(doubles_of(info[0]), integer(info[1]), integer(info[2]), static_cast<double*>(data_of(info[3])),
           static_cast<double*>(data_of(info[4])));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[qr] out of memory for the working matrices");
  }
  return Done(info);
}

// eigh(a, n, maxSweeps, values, vectors) -> 0, or 1 when the QR iteration did not converge
Napi::Value Eigh(const Napi::CallbackInfo& info) {
  try {
    const int status = eigh_f64(doubles_of(info[0]), integer(info[1]), static_cast<int>(integer(info[2])),
                                static_cast<double*>(data_of(info[3])), static_cast<double*>(data_of(info[4])));
    return Napi::Number::New(info.Env(), status);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[eigh] out of memory for the working matrices");
  }
}

// tuneAllocator(mmapThreshold, trimThreshold) -> whether the C library took the settings (glibc only).
// Tensors are allocated and freed in bulk by the garbage collector; with glibc's defaults the freed
// memory of large buffers goes back to the kernel and every new tensor pays a page fault per 4 KiB. Keeping
// buffers up to mmapThreshold in the heap and not trimming below trimThreshold lets them be reused.
Napi::Value TuneAllocator(const Napi::CallbackInfo& info) {
#if defined(__GLIBC__)
  const int mmap_ok = mallopt(M_MMAP_THRESHOLD, static_cast<int>(integer(info[0])));
  const int trim_ok = mallopt(M_TRIM_THRESHOLD, static_cast<int>(integer(info[1])));
  return Napi::Boolean::New(info.Env(), mmap_ok == 1 && trim_ok == 1);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// adviseHugePages(array): marks the whole 2 MiB pages inside a fresh, not yet written typed array as
// eligible for transparent huge pages (Linux, THP in "madvise" mode), so that the kernel writing it first
// faults in 2 MiB at a time rather than 4 KiB. Contents are unchanged; returns whether advice was given.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  napi_get_typedarray_info(info.Env(), info[0], &type, &length, &data, &buffer, &byte_offset);
  size_t element = 1;
  switch (type) {
    case napi_float64_array:
      element = 8;
      break;
    case napi_float32_array:
    case napi_int32_array:
      element = 4;
      break;
    case napi_uint16_array:
      element = 2;
      break;
    default:
      break;
  }
  constexpr uintptr_t kHuge = uintptr_t{2} << 20;
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + length * element) & ~(kHuge - 1);
  if (end > begin) {
    return Napi::Boolean::New(info.Env(), madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0);
  }
#endif
  return Napi::Boolean::New(info.Env(), false);
}

Napi::Array names(Napi::Env env, int count, const char* (*name)(int)) {
  Napi::Array out = Napi::Array::New(env, static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, name(i)));
  return out;
}

// opNames() -> { unary, binary, reduce }: the op names in code order.
Napi::Value OpNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("unary", names(env, static_cast<int>(UnaryOp::kCount),
                         [](int i) { return unary_op_name(static_cast<UnaryOp>(i)); }));
  out.Set("binary", names(env, static_cast<int>(BinaryOp::kCount),
                          [](int i) { return binary_op_name(static_cast<BinaryOp>(i)); }));
  out.Set("reduce", names(env, static_cast<int>(ReduceOp::kCount),
                          [](int i) { return reduce_op_name(static_cast<ReduceOp>(i)); }));
  return out;
}

}  // namespace

void register_tensor_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("tuneAllocator", Napi::Function::New(env, TuneAllocator, "tuneAllocator"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("opNames", Napi::Function::New(env, OpNames, "opNames"));
  exports.Set("unary", Napi::Function::New(env, Unary, "unary"));
  exports.Set("binary", Napi::Function::New(env, Binary, "binary"));
  exports.Set("where", Napi::Function::New(env, Where, "where"));
  exports.Set("convert", Napi::Function::New(env, Convert, "convert"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("argReduce", Napi::Function::New(env, ArgReduce, "argReduce"));
  exports.Set("softmax", Napi::Function::New(env, Softmax, "softmax"));
  exports.Set("rmsNorm", Napi::Function::New(env, RmsNorm, "rmsNorm"));
  exports.Set("rotary", Napi::Function::New(env, Rotary, "rotary"));
  exports.Set("swiglu", Napi::Function::New(env, Swiglu, "swiglu"));
  exports.Set("swigluBackward", Napi::Function::New(env, SwigluBackward, "swigluBackward"));
  exports.Set("attentionSoftmax", Napi::Function::New(env, AttentionSoftmax, "attentionSoftmax"));
  exports.Set("softmaxCrossEntropyBackward",
              Napi::Function::New(env, SoftmaxCrossEntropyBackward, "softmaxCrossEntropyBackward"));
  exports.Set("attentionSoftmaxBackward",
              Napi::Function::New(env, AttentionSoftmaxBackward, "attentionSoftmaxBackward"));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNorm, "layerNorm"));
  exports.Set("gather", Napi::Function::New(env, Gather, "gather"));
  exports.Set("scatterAdd", Napi::Function::New(env, ScatterAdd, "scatterAdd"));
  exports.Set("indexSelect", Napi::Function::New(env, IndexSelect, "indexSelect"));
  exports.Set("indexAdd", Napi::Function::New(env, IndexAdd, "indexAdd"));
  exports.Set("svd", Napi::Function::New(env, Svd, "svd"));
  exports.Set("qr", Napi::Function::New(env, Qr, "qr"));
  exports.Set("eigh", Napi::Function::New(env, Eigh, "eigh"));
  exports.Set("im2col", Napi::Function::New(env, Im2col, "im2col"));
  exports.Set("col2im", Napi::Function::New(env, Col2im, "col2im"));
}

}  // namespace lorakit
