// The JavaScript binding: plain, already validated arguments in (src/native.ts checks them), arithmetic
// out. Nothing here defaults, broadcasts or checks shapes.
#include <napi.h>

#include <new>

#include "dgemm.h"
#include "gemm.h"
#include "tensor_binding.h"

namespace {

using lorakit::SgemmArgs;

// Shared argument layout of sgemm and sgemmStridedBatched:
//   transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc
SgemmArgs read_args(const Napi::CallbackInfo& info) {
  SgemmArgs g;
  g.trans_a = info[0].As<Napi::Boolean>().Value();
  g.trans_b = info[1].As<Napi::Boolean>().Value();
  g.m = info[2].As<Napi::Number>().Int64Value();
  g.n = info[3].As<Napi::Number>().Int64Value();
  g.k = info[4].As<Napi::Number>().Int64Value();
  g.alpha = info[5].As<Napi::Number>().FloatValue();
  g.a = info[6].As<Napi::Float32Array>().Data() + info[7].As<Napi::Number>().Int64Value();
  g.lda = info[8].As<Napi::Number>().Int64Value();
  g.b = info[9].As<Napi::Float32Array>().Data() + info[10].As<Napi::Number>().Int64Value();
  g.ldb = info[11].As<Napi::Number>().Int64Value();
  g.beta = info[12].As<Napi::Number>().FloatValue();
  g.c = info[13].As<Napi::Float32Array>().Data() + info[14].As<Napi::Number>().Int64Value();
  g.ldc = info[15].As<Napi::Number>().Int64Value();
  return g;
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  const SgemmArgs g = read_args(info);
  try {
    lorakit::sgemm(g);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[sgemm] out of memory for packing buffers");
  }
  return info.Env().Undefined();
}

// ..., batch, strideA, strideB, strideC after the sgemm arguments.
Napi::Value SgemmStridedBatched(const Napi::CallbackInfo& info) {
  const SgemmArgs g = read_args(info);
  const int64_t batch = info[16].As<Napi::Number>().Int64Value();
  const int64_t stride_a = info[17].As<Napi::Number>().Int64Value();
  const int64_t stride_b = info[18].As<Napi::Number>().Int64Value();
  const int64_t stride_c = info[19].As<Napi::Number>().Int64Value();
  try {
    lorakit::sgemm_strided_batched(g, batch, stride_a, stride_b, stride_c);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[sgemmStridedBatched] out of memory for packing buffers");
  }
  return info.Env().Undefined();
}

// dgemm and dgemmStridedBatched take the same arguments as their float32 counterparts, with Float64Arrays.
lorakit::DgemmArgs read_dgemm_args(const Napi::CallbackInfo& info) {
  lorakit::DgemmArgs g;
  g.trans_a = info[0].As<Napi::Boolean>().Value();
  g.trans_b = info[1].As<Napi::Boolean>().Value();
  g.m = info[2].As<Napi::Number>().Int64Value();
  g.n = info[3].As<Napi::Number>().Int64Value();
  g.k = info[4].As<Napi::Number>().Int64Value();
  g.alpha = info[5].As<Napi::Number>().DoubleValue();
  g.a = info[6].As<Napi::Float64Array>().Data() + info[7].As<Napi::Number>().Int64Value();
  g.lda = info[8].As<Napi::Number>().Int64Value();
  g.b = info[9].As<Napi::Float64Array>().Data() + info[10].As<Napi::Number>().Int64Value();
  g.ldb = info[11].As<Napi::Number>().Int64Value();
  g.beta = info[12].As<Napi::Number>().DoubleValue();
  g.c = info[13].As<Napi::Float64Array>().Data() + info[14].As<Napi::Number>().Int64Value();
  g.ldc = info[15].As<Napi::Number>().Int64Value();
  return g;
}

Napi::Value Dgemm(const Napi::CallbackInfo& info) {
  const lorakit::DgemmArgs g = read_dgemm_args(info);
  try {
    lorakit::dgemm(g);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[dgemm] out of memory for packing buffers");
  }
  return info.Env().Undefined();
}

Napi::Value DgemmStridedBatched(const Napi::CallbackInfo& info) {
  const lorakit::DgemmArgs g = read_dgemm_args(info);
  const int64_t batch = info[16].As<Napi::Number>().Int64Value();
  const int64_t stride_a = info[17].As<Napi::Number>().Int64Value();
  const int64_t stride_b = info[18].As<Napi::Number>().Int64Value();
  const int64_t stride_c = info[19].As<Napi::Number>().Int64Value();
  try {
    lorakit::dgemm_strided_batched(g, batch, stride_a, stride_b, stride_c);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "[dgemmStridedBatched] out of memory for packing buffers");
  }
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), lorakit::num_threads());
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  lorakit::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value KernelName(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), lorakit::kernel_name());
}

// setKernel("auto" | "portable" | "avx2-fma" | "avx512") -> whether the choice took effect.
Napi::Value SetKernel(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  lorakit::KernelChoice choice = lorakit::KernelChoice::kAuto;
  if (name == "portable") choice = lorakit::KernelChoice::kPortable;
  if (name == "avx2-fma") choice = lorakit::KernelChoice::kAvx2Fma;
  if (name == "avx512") choice = lorakit::KernelChoice::kAvx512;
  return Napi::Boolean::New(info.Env(), lorakit::set_kernel(choice));
}

Napi::Value Avx2FmaUsable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), lorakit::avx2_fma_usable());
}

Napi::Value Avx512Usable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), lorakit::avx512_usable());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("sgemmStridedBatched", Napi::Function::New(env, SgemmStridedBatched, "sgemmStridedBatched"));
  exports.Set("dgemm", Napi::Function::New(env, Dgemm, "dgemm"));
  exports.Set("dgemmStridedBatched", Napi::Function::New(env, DgemmStridedBatched, "dgemmStridedBatched"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("kernelName", Napi::Function::New(env, KernelName, "kernelName"));
  exports.Set("setKernel", Napi::Function::New(env, SetKernel, "setKernel"));
  exports.Set("avx2FmaUsable", Napi::Function::New(env, Avx2FmaUsable, "avx2FmaUsable"));
  exports.Set("avx512Usable", Napi::Function::New(env, Avx512Usable, "avx512Usable"));
  lorakit::register_tensor_ops(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(lorakit_cpu, Init)
