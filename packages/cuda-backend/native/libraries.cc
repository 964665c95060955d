#include "libraries.h"

#include <dlfcn.h>

#include <initializer_list>

namespace cuda {
namespace {

struct Opened {
  void* handle = nullptr;
  std::string path;
};

/** dlopen of `names` in each directory, then by bare name (the loader's own search). */
Opened openFirst(const std::vector<std::string>& dirs, std::initializer_list<const char*> names, int flags) {
  for (const auto& dir : dirs) {
    for (const char* name : names) {
      std::string path = dir + "/" + name;
      if (void* h = dlopen(path.c_str(), flags)) return {h, path};
    }
  }
  for (const char* name : names) {
    if (void* h = dlopen(name, flags)) return {h, name};
  }
  return {};
}

template <typename T>
bool resolve(void* handle, T& slot, const char* symbol, std::string& firstMissing) {
  slot = reinterpret_cast<T>(dlsym(handle, symbol));
  if (!slot && firstMissing.empty()) firstMissing = symbol;
  return slot != nullptr;
}

std::string names(std::initializer_list<const char*> list) {
  std::string out;
  for (const char* n : list) {
    if (!out.empty()) out += " or ";
    out += n;
  }
  return out;
}

}  // namespace

Libraries& loadLibraries(const std::vector<std::string>& dirs) {
  static Libraries libs;
  static bool loaded = false;
  if (loaded) return libs;
  loaded = true;
  const int flags = RTLD_NOW | RTLD_GLOBAL;

  // Driver.
  Opened driver = openFirst({}, {"libcuda.so.1", "libcuda.so"}, flags);
  if (!driver.handle) {
    libs.missing.push_back("the NVIDIA driver library libcuda.so.1 (install the NVIDIA driver)");
  } else {
    std::string bad;
    auto& d = libs.driver;
    void* h = driver.handle;
    resolve(h, d.cuInit, "cuInit", bad);
    resolve(h, d.cuDriverGetVersion, "cuDriverGetVersion", bad);
    resolve(h, d.cuDeviceGetCount, "cuDeviceGetCount", bad);
    resolve(h, d.cuDeviceGet, "cuDeviceGet", bad);
    resolve(h, d.cuDeviceGetName, "cuDeviceGetName", bad);
    resolve(h, d.cuDeviceTotalMem, "cuDeviceTotalMem_v2", bad);
    resolve(h, d.cuDeviceGetAttribute, "cuDeviceGetAttribute", bad);
    resolve(h, d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", bad);
    resolve(h, d.cuCtxSetCurrent, "cuCtxSetCurrent", bad);
    resolve(h, d.cuStreamCreate, "cuStreamCreate", bad);
    resolve(h, d.cuStreamSynchronize, "cuStreamSynchronize", bad);
    resolve(h, d.cuMemAlloc, "cuMemAlloc_v2", bad);
    resolve(h, d.cuMemFree, "cuMemFree_v2", bad);
    resolve(h, d.cuMemGetInfo, "cuMemGetInfo_v2", bad);
    resolve(h, d.cuMemAllocHost, "cuMemAllocHost_v2", bad);
    resolve(h, d.cuMemFreeHost, "cuMemFreeHost", bad);
    resolve(h, d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2", bad);
    resolve(h, d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2", bad);
    resolve(h, d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2", bad);
    resolve(h, d.cuMemsetD8Async, "cuMemsetD8Async", bad);
    resolve(h, d.cuMemsetD32Async, "cuMemsetD32Async", bad);
    resolve(h, d.cuModuleLoadData, "cuModuleLoadData", bad);
    resolve(h, d.cuModuleGetFunction, "cuModuleGetFunction", bad);
    resolve(h, d.cuFuncSetAttribute, "cuFuncSetAttribute", bad);
    resolve(h, d.cuLaunchKernel, "cuLaunchKernel", bad);
    resolve(h, d.cuEventCreate, "cuEventCreate", bad);
    resolve(h, d.cuEventRecord, "cuEventRecord", bad);
    resolve(h, d.cuEventSynchronize, "cuEventSynchronize", bad);
    resolve(h, d.cuEventElapsedTime, "cuEventElapsedTime", bad);
    resolve(h, d.cuEventDestroy, "cuEventDestroy_v2", bad);
    resolve(h, d.cuGetErrorName, "cuGetErrorName", bad);
    resolve(h, d.cuGetErrorString, "cuGetErrorString", bad);
    if (bad.empty()) {
      libs.hasDriver = true;
    } else {
      libs.missing.push_back("a driver whose libcuda.so.1 exports " + bad + " (update the NVIDIA driver)");
    }
  }

  // cuBLASLt.
  auto blasNames = {"libcublasLt.so.13", "libcublasLt.so.12"};
  Opened blasLt = openFirst(dirs, blasNames, flags);
  if (!blasLt.handle) {
    libs.missing.push_back(names(blasNames) +
                           " (cuBLAS of CUDA 12 or 13: the CUDA toolkit, or `pip install nvidia-cublas`)");
  } else {
    std::string bad;
    auto& b = libs.blasLt;
    void* h = blasLt.handle;
    resolve(h, b.cublasLtCreate, "cublasLtCreate", bad);
    resolve(h, b.cublasLtGetVersion, "cublasLtGetVersion", bad);
    resolve(h, b.cublasLtMatmulDescCreate, "cublasLtMatmulDescCreate", bad);
    resolve(h, b.cublasLtMatmulDescDestroy, "cublasLtMatmulDescDestroy", bad);
    resolve(h, b.cublasLtMatmulDescSetAttribute, "cublasLtMatmulDescSetAttribute", bad);
    resolve(h, b.cublasLtMatrixLayoutCreate, "cublasLtMatrixLayoutCreate", bad);
    resolve(h, b.cublasLtMatrixLayoutDestroy, "cublasLtMatrixLayoutDestroy", bad);
    resolve(h, b.cublasLtMatrixLayoutSetAttribute, "cublasLtMatrixLayoutSetAttribute", bad);
    resolve(h, b.cublasLtMatmulPreferenceCreate, "cublasLtMatmulPreferenceCreate", bad);
    resolve(h, b.cublasLtMatmulPreferenceDestroy, "cublasLtMatmulPreferenceDestroy", bad);
    resolve(h, b.cublasLtMatmulPreferenceSetAttribute, "cublasLtMatmulPreferenceSetAttribute", bad);
    resolve(h, b.cublasLtMatmulAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic", bad);
    resolve(h, b.cublasLtMatmul, "cublasLtMatmul", bad);
    libs.hasBlasLt = bad.empty();
    libs.blasLtPath = blasLt.path;
    if (!bad.empty()) libs.missing.push_back(blasLt.path + " lacks " + bad);
  }

  // cuSOLVER and the libraries it links against (loaded first from the same folders).
  openFirst(dirs, {"libcublas.so.13", "libcublas.so.12"}, flags);
  openFirst(dirs, {"libnvJitLink.so.13", "libnvJitLink.so.12"}, flags);
  openFirst(dirs, {"libcusparse.so.12", "libcusparse.so.11"}, flags);
  auto solverNames = {"libcusolver.so.12", "libcusolver.so.11"};
  Opened solver = openFirst(dirs, solverNames, flags);
  if (!solver.handle) {
    libs.missing.push_back(names(solverNames) +
                           " (cuSOLVER of CUDA 12 or 13: the CUDA toolkit, or `pip install nvidia-cusolver`)");
  } else {
    std::string bad;
    auto& s = libs.solver;
    void* h = solver.handle;
    resolve(h, s.cusolverDnCreate, "cusolverDnCreate", bad);
    resolve(h, s.cusolverDnSetStream, "cusolverDnSetStream", bad);
    resolve(h, s.cusolverDnDgesvd_bufferSize, "cusolverDnDgesvd_bufferSize", bad);
    resolve(h, s.cusolverDnDgesvd, "cusolverDnDgesvd", bad);
    resolve(h, s.cusolverDnDgeqrf_bufferSize, "cusolverDnDgeqrf_bufferSize", bad);
    resolve(h, s.cusolverDnDgeqrf, "cusolverDnDgeqrf", bad);
    resolve(h, s.cusolverDnDorgqr_bufferSize, "cusolverDnDorgqr_bufferSize", bad);
    resolve(h, s.cusolverDnDorgqr, "cusolverDnDorgqr", bad);
    resolve(h, s.cusolverDnDsyevd_bufferSize, "cusolverDnDsyevd_bufferSize", bad);
    resolve(h, s.cusolverDnDsyevd, "cusolverDnDsyevd", bad);
    libs.hasSolver = bad.empty();
    libs.solverPath = solver.path;
    if (!bad.empty()) libs.missing.push_back(solver.path + " lacks " + bad);
  }

  // NVRTC: optional when a prebuilt fatbin covers the device.
  Opened nvrtc = openFirst(dirs, {"libnvrtc.so.13", "libnvrtc.so.12"}, flags);
  if (nvrtc.handle) {
    std::string bad;
    auto& n = libs.nvrtc;
    void* h = nvrtc.handle;
    resolve(h, n.nvrtcCreateProgram, "nvrtcCreateProgram", bad);
    resolve(h, n.nvrtcCompileProgram, "nvrtcCompileProgram", bad);
    resolve(h, n.nvrtcGetProgramLogSize, "nvrtcGetProgramLogSize", bad);
    resolve(h, n.nvrtcGetProgramLog, "nvrtcGetProgramLog", bad);
    resolve(h, n.nvrtcGetCUBINSize, "nvrtcGetCUBINSize", bad);
    resolve(h, n.nvrtcGetCUBIN, "nvrtcGetCUBIN", bad);
    resolve(h, n.nvrtcDestroyProgram, "nvrtcDestroyProgram", bad);
    resolve(h, n.nvrtcGetErrorString, "nvrtcGetErrorString", bad);
    resolve(h, n.nvrtcVersion, "nvrtcVersion", bad);
    libs.hasNvrtc = bad.empty();
    libs.nvrtcPath = nvrtc.path;
  }
  return libs;
}

}  // namespace cuda
