// The JavaScript face of the runtime: plain, validated arguments in, numbers out. All decisions (shapes,
// strides, dtypes, which kernel) are made in TypeScript; this file only converts and forwards.
#include <napi.h>

#include "runtime.h"

namespace {

using cuda::CUdeviceptr;
using cuda::Runtime;

CUdeviceptr pointer(const Napi::Value& v) { return static_cast<CUdeviceptr>(v.As<Napi::Number>().DoubleValue()); }
double number(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
int integer(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int32Value(); }

/** Runs `body`, turning runtime failures into JavaScript errors that carry their details. */
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& body) {
  Napi::Env env = info.Env();
  try {
    return body(env);
  } catch (const cuda::OutOfMemory& oom) {
    Napi::Error error = Napi::Error::New(env, "out of device memory");
    error.Set("kind", Napi::String::New(env, "oom"));
    error.Set("reason", Napi::String::New(env, oom.what()));
    error.Set("requested", Napi::Number::New(env, static_cast<double>(oom.requested)));
    error.Set("inUse", Napi::Number::New(env, static_cast<double>(oom.inUse)));
    error.Set("free", Napi::Number::New(env, static_cast<double>(oom.free)));
    error.Set("limit", Napi::Number::New(env, static_cast<double>(oom.limit)));
    error.ThrowAsJavaScriptException();
  } catch (const cuda::CudaFailure& failure) {
    Napi::Error error = Napi::Error::New(env, failure.what());
    error.Set("kind", Napi::String::New(env, failure.kind));
    error.Set("code", Napi::Number::New(env, failure.code));
    error.ThrowAsJavaScriptException();
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value Initialize(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::vector<std::string> dirs;
    Napi::Array list = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) dirs.push_back(list.Get(i).As<Napi::String>().Utf8Value());
    Runtime& rt = Runtime::instance();
    std::vector<std::string> problems = rt.initialize(dirs, integer(info, 1));
    Napi::Object out = Napi::Object::New(env);
    Napi::Array missing = Napi::Array::New(env, problems.size());
    for (size_t i = 0; i < problems.size(); i++) missing.Set(static_cast<uint32_t>(i), problems[i]);
    out.Set("problems", missing);
    out.Set("ready", Napi::Boolean::New(env, rt.ready()));
    if (rt.ready()) {
      const auto& d = rt.device();
      Napi::Object device = Napi::Object::New(env);
      device.Set("name", d.name);
      device.Set("major", d.major);
      device.Set("minor", d.minor);
      device.Set("multiprocessors", d.multiprocessors);
      device.Set("l2Bytes", d.l2Bytes);
      device.Set("sharedOptin", d.sharedOptin);
      device.Set("driverVersion", d.driverVersion);
      device.Set("totalMemory", static_cast<double>(d.totalMemory));
      out.Set("device", device);
      Napi::Object libraries = Napi::Object::New(env);
      libraries.Set("cublasLt", rt.libraries().blasLtPath);
      libraries.Set("cublasLtVersion", static_cast<double>(rt.libraries().blasLt.cublasLtGetVersion()));
      libraries.Set("cusolver", rt.libraries().solverPath);
      libraries.Set("nvrtc", rt.libraries().hasNvrtc ? rt.libraries().nvrtcPath : "");
      out.Set("libraries", libraries);
    }
    return out;
  });
}

Napi::Value LoadModule(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::Uint8Array image = info[0].As<Napi::Uint8Array>();
    Runtime::instance().loadModule(image.Data());
    return env.Undefined();
  });
}

Napi::Value Compile(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    std::vector<std::string> options;
    Napi::Array list = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) options.push_back(list.Get(i).As<Napi::String>().Utf8Value());
    std::string cubin = Runtime::instance().compile(info[0].As<Napi::String>().Utf8Value(),
                                                    info[1].As<Napi::String>().Utf8Value(), options);
    return Napi::Buffer<char>::Copy(env, cubin.data(), cubin.size());
  });
}

Napi::Value GetFunction(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, Runtime::instance().function(info[0].As<Napi::String>().Utf8Value()));
  });
}

Napi::Value Launch(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::ArrayBuffer params = info[6].As<Napi::ArrayBuffer>();
    Runtime::instance().launch(integer(info, 0), static_cast<unsigned>(number(info, 1)),
                               static_cast<unsigned>(number(info, 2)), static_cast<unsigned>(number(info, 3)),
                               static_cast<unsigned>(number(info, 4)), static_cast<unsigned>(number(info, 5)),
                               params.Data());
    return env.Undefined();
  });
}

Napi::Value Alloc(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    CUdeviceptr ptr = Runtime::instance().allocator().allocate(static_cast<size_t>(number(info, 0)));
    return Napi::Number::New(env, static_cast<double>(ptr));
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().allocator().release(pointer(info[0]));
    return env.Undefined();
  });
}

Napi::Value Upload(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::TypedArray data = info[1].As<Napi::TypedArray>();
    auto* bytes = static_cast<const uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
    Runtime::instance().upload(pointer(info[0]), bytes, data.ByteLength());
    return env.Undefined();
  });
}

Napi::Value Download(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::TypedArray data = info[1].As<Napi::TypedArray>();
    auto* bytes = static_cast<uint8_t*>(data.ArrayBuffer().Data()) + data.ByteOffset();
    Runtime::instance().download(bytes, pointer(info[0]), data.ByteLength());
    return env.Undefined();
  });
}

Napi::Value CopyDevice(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().copyDevice(pointer(info[0]), pointer(info[1]), static_cast<size_t>(number(info, 2)));
    return env.Undefined();
  });
}

Napi::Value Fill8(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().fill8(pointer(info[0]), static_cast<unsigned char>(integer(info, 1)),
                              static_cast<size_t>(number(info, 2)));
    return env.Undefined();
  });
}

Napi::Value Fill32(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().fill32(pointer(info[0]), info[1].As<Napi::Number>().Uint32Value(),
                               static_cast<size_t>(number(info, 2)));
    return env.Undefined();
  });
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().synchronize();
    return env.Undefined();
  });
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const auto& s = Runtime::instance().allocator().stats();
    Napi::Object out = Napi::Object::New(env);
    out.Set("inUse", static_cast<double>(s.inUse));
    out.Set("cached", static_cast<double>(s.cached));
    out.Set("peakInUse", static_cast<double>(s.peakInUse));
    out.Set("limit", static_cast<double>(s.limit));
    out.Set("deviceAllocations", static_cast<double>(s.deviceAllocations));
    out.Set("reuses", static_cast<double>(s.reuses));
    out.Set("requests", static_cast<double>(s.requests));
    size_t freeBytes = 0, total = 0;
    Runtime::instance().libraries().driver.cuMemGetInfo(&freeBytes, &total);
    out.Set("deviceFree", static_cast<double>(freeBytes));
    out.Set("deviceTotal", static_cast<double>(total));
    return out;
  });
}

Napi::Value SetMemoryLimit(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().allocator().setLimit(static_cast<size_t>(number(info, 0)));
    return env.Undefined();
  });
}

Napi::Value EmptyCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, static_cast<double>(Runtime::instance().allocator().emptyCache()));
  });
}

Napi::Value ResetPeak(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    auto& stats = const_cast<cuda::MemoryStats&>(Runtime::instance().allocator().stats());
    stats.peakInUse = stats.inUse;
    return env.Undefined();
  });
}

Napi::Value RecordEvent(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, Runtime::instance().recordEvent());
  });
}

Napi::Value Elapsed(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    return Napi::Number::New(env, Runtime::instance().elapsed(integer(info, 0), integer(info, 1)));
  });
}

Napi::Value ProfileRecord(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().profileRecord(integer(info, 0));
    return env.Undefined();
  });
}

/** profileTimes(count, Float64Array out): each pooled event's milliseconds after the first. */
Napi::Value ProfileTimes(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    const int count = integer(info, 0);
    Napi::Float64Array out = info[1].As<Napi::Float64Array>();
    if (count < 0 || static_cast<size_t>(count) > out.ElementLength())
      throw std::runtime_error("profileTimes: the output array is shorter than the event count");
    Runtime::instance().profileTimes(count, out.Data());
    return env.Undefined();
  });
}

/** gemm(Float64Array [dtype, compute, transA, transB, m, n, k, lda, ldb, ldc, sA, sB, sC, batch, alpha, beta, a, b, c]). */
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Napi::Float64Array p = info[0].As<Napi::Float64Array>();
    Runtime::Gemm g{};
    g.dtype = static_cast<int>(p[0]);
    g.computeType = static_cast<int>(p[1]);
    g.transA = p[2] != 0;
    g.transB = p[3] != 0;
    g.m = static_cast<int64_t>(p[4]);
    g.n = static_cast<int64_t>(p[5]);
    g.k = static_cast<int64_t>(p[6]);
    g.lda = static_cast<int64_t>(p[7]);
    g.ldb = static_cast<int64_t>(p[8]);
    g.ldc = static_cast<int64_t>(p[9]);
    g.strideA = static_cast<int64_t>(p[10]);
    g.strideB = static_cast<int64_t>(p[11]);
    g.strideC = static_cast<int64_t>(p[12]);
    g.batch = static_cast<int64_t>(p[13]);
    g.alpha = p[14];
    g.beta = p[15];
    g.a = static_cast<CUdeviceptr>(p[16]);
    g.b = static_cast<CUdeviceptr>(p[17]);
    g.c = static_cast<CUdeviceptr>(p[18]);
    Runtime::instance().gemm(g);
    return env.Undefined();
  });
}

Napi::Value SetGemmTuning(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().setGemmTuning(info[0].As<Napi::Boolean>().Value());
    return env.Undefined();
  });
}

Napi::Value Svd(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().svd(integer(info, 0), integer(info, 1), pointer(info[2]), pointer(info[3]), pointer(info[4]),
                            pointer(info[5]), info[6].As<Napi::Boolean>().Value());
    return env.Undefined();
  });
}

Napi::Value Qr(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().qr(integer(info, 0), integer(info, 1), pointer(info[2]), pointer(info[3]));
    return env.Undefined();
  });
}

Napi::Value Orgqr(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().orgqr(integer(info, 0), integer(info, 1), integer(info, 2), pointer(info[3]),
                              pointer(info[4]));
    return env.Undefined();
  });
}

Napi::Value Eigh(const Napi::CallbackInfo& info) {
  return guarded(info, [&](Napi::Env env) -> Napi::Value {
    Runtime::instance().eigh(integer(info, 0), pointer(info[1]), pointer(info[2]));
    return env.Undefined();
  });
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("initialize", Napi::Function::New(env, Initialize));
  exports.Set("loadModule", Napi::Function::New(env, LoadModule));
  exports.Set("compile", Napi::Function::New(env, Compile));
  exports.Set("getFunction", Napi::Function::New(env, GetFunction));
  exports.Set("launch", Napi::Function::New(env, Launch));
  exports.Set("alloc", Napi::Function::New(env, Alloc));
  exports.Set("free", Napi::Function::New(env, Free));
  exports.Set("upload", Napi::Function::New(env, Upload));
  exports.Set("download", Napi::Function::New(env, Download));
  exports.Set("copyDevice", Napi::Function::New(env, CopyDevice));
  exports.Set("fill8", Napi::Function::New(env, Fill8));
  exports.Set("fill32", Napi::Function::New(env, Fill32));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats));
  exports.Set("setMemoryLimit", Napi::Function::New(env, SetMemoryLimit));
  exports.Set("emptyCache", Napi::Function::New(env, EmptyCache));
  exports.Set("resetPeak", Napi::Function::New(env, ResetPeak));
  exports.Set("recordEvent", Napi::Function::New(env, RecordEvent));
  exports.Set("elapsed", Napi::Function::New(env, Elapsed));
  exports.Set("profileRecord", Napi::Function::New(env, ProfileRecord));
  exports.Set("profileTimes", Napi::Function::New(env, ProfileTimes));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("setGemmTuning", Napi::Function::New(env, SetGemmTuning));
  exports.Set("svd", Napi::Function::New(env, Svd));
  exports.Set("qr", Napi::Function::New(env, Qr));
  exports.Set("orgqr", Napi::Function::New(env, Orgqr));
  exports.Set("eigh", Napi::Function::New(env, Eigh));
  return exports;
}

}  // namespace

NODE_API_MODULE(lorakit_cuda, Init)
