#include "runtime.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace cuda {

// ── allocator ────────────────────────────────────────────────────────────────────────────────────────

size_t Allocator::roundSize(size_t bytes) {
  if (bytes == 0) bytes = 1;
  constexpr size_t kSmall = 1 << 20;  // below 1 MiB: multiples of 512 bytes
  constexpr size_t kLarge = 2 << 20;  // above: multiples of 2 MiB
  if (bytes <= kSmall) return (bytes + 511) / 512 * 512;
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

CUdeviceptr Allocator::allocate(size_t bytes) {
  const size_t size = roundSize(bytes);
  stats_.requests++;
  auto bucket = free_.find(size);
  if (bucket != free_.end() && !bucket->second.empty()) {
    CUdeviceptr ptr = bucket->second.back();
    bucket->second.pop_back();
    stats_.cached -= size;
    stats_.inUse += size;
    stats_.peakInUse = std::max(stats_.peakInUse, stats_.inUse);
    stats_.reuses++;
    live_[ptr] = size;
    return ptr;
  }
  if (stats_.limit != 0 && stats_.inUse + size > stats_.limit) {
    size_t freeBytes = 0, total = 0;
    driver_.cuMemGetInfo(&freeBytes, &total);
    throw OutOfMemory(bytes, stats_.inUse, freeBytes, stats_.limit, "limit");
  }
  CUdeviceptr ptr = 0;
  CUresult result = driver_.cuMemAlloc(&ptr, size);
  if (result == CUDA_ERROR_OUT_OF_MEMORY) {
    // Give the cached blocks back to the driver and try once more.
    emptyCache();
    result = driver_.cuMemAlloc(&ptr, size);
  }
  if (result != CUDA_SUCCESS) {
    size_t freeBytes = 0, total = 0;
    driver_.cuMemGetInfo(&freeBytes, &total);
    throw OutOfMemory(bytes, stats_.inUse, freeBytes, stats_.limit, "device");
  }
  stats_.deviceAllocations++;
  stats_.inUse += size;
  stats_.peakInUse = std::max(stats_.peakInUse, stats_.inUse);
  live_[ptr] = size;
  return ptr;
}

void Allocator::release(CUdeviceptr ptr) {
  auto it = live_.find(ptr);
  if (it == live_.end()) return;
  const size_t size = it->second;
  live_.erase(it);
  stats_.inUse -= size;
  stats_.cached += size;
  free_[size].push_back(ptr);
}

size_t Allocator::emptyCache() {
  size_t released = 0;
  for (auto& [size, list] : free_) {
    for (CUdeviceptr ptr : list) {
      driver_.cuMemFree(ptr);
      released += size;
    }
    list.clear();
  }
  free_.clear();
  stats_.cached = 0;
  return released;
}

// ── runtime ──────────────────────────────────────────────────────────────────────────────────────────

Runtime& Runtime::instance() {
  static Runtime runtime;
  return runtime;
}

std::vector<std::string> Runtime::initialize(const std::vector<std::string>& searchDirs, int ordinal) {
  if (ready_) return {};
  libs_ = &loadLibraries(searchDirs);
  std::vector<std::string> problems = libs_->missing;
  if (!libs_->hasDriver) return problems;
  auto& d = libs_->driver;
  CUresult r = d.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char* name = nullptr;
    d.cuGetErrorName(r, &name);
    problems.push_back(std::string("a usable GPU (cuInit failed: ") + (name ? name : "?") + ")");
    return problems;
  }
  int count = 0;
  d.cuDeviceGetCount(&count);
  if (count <= ordinal) {
    problems.push_back("a CUDA device " + std::to_string(ordinal) + " (the driver sees " + std::to_string(count) +
                       ")");
    return problems;
  }
  if (!problems.empty()) return problems;
  CUdevice device = 0;
  check(d.cuDeviceGet(&device, ordinal), "cuDeviceGet");
  char name[256] = {0};
  d.cuDeviceGetName(name, sizeof(name) - 1, device);
  device_.name = name;
  d.cuDeviceTotalMem(&device_.totalMemory, device);
  d.cuDeviceGetAttribute(&device_.major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  d.cuDeviceGetAttribute(&device_.minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  d.cuDeviceGetAttribute(&device_.multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
  d.cuDeviceGetAttribute(&device_.l2Bytes, CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, device);
  d.cuDeviceGetAttribute(&device_.sharedOptin, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device);
  d.cuDriverGetVersion(&device_.driverVersion);
  check(d.cuDevicePrimaryCtxRetain(&context_, device), "cuDevicePrimaryCtxRetain");
  check(d.cuCtxSetCurrent(context_), "cuCtxSetCurrent");
  check(d.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  allocator_ = new Allocator(d);
  checkBlas(libs_->blasLt.cublasLtCreate(&blasLt_), "cublasLtCreate");
  checkSolver(libs_->solver.cusolverDnCreate(&solver_), "cusolverDnCreate");
  checkSolver(libs_->solver.cusolverDnSetStream(solver_, stream_), "cusolverDnSetStream");
  ready_ = true;
  return {};
}

void Runtime::check(CUresult result, const char* what) const {
  if (result == CUDA_SUCCESS) return;
  const char* name = nullptr;
  const char* text = nullptr;
  if (libs_ && libs_->hasDriver) {
    libs_->driver.cuGetErrorName(result, &name);
    libs_->driver.cuGetErrorString(result, &text);
  }
  std::ostringstream message;
  message << what << " failed: " << (name ? name : "CUDA error") << " (" << result << ")";
  if (text) message << ": " << text;
  throw CudaFailure(message.str(), result, "driver");
}

void Runtime::checkBlas(cublasStatus_t status, const char* what) const {
  if (status == 0) return;
  throw CudaFailure(std::string(what) + " failed with cuBLAS status " + std::to_string(status), status, "cublas");
}

void Runtime::checkSolver(cusolverStatus_t status, const char* what) const {
  if (status == 0) return;
  throw CudaFailure(std::string(what) + " failed with cuSOLVER status " + std::to_string(status), status,
                    "cusolver");
}

void Runtime::synchronize() { check(libs_->driver.cuStreamSynchronize(stream_), "cuStreamSynchronize"); }

void Runtime::loadModule(const void* image) {
  CUmodule module = nullptr;
  check(libs_->driver.cuModuleLoadData(&module, image), "cuModuleLoadData");
  modules_.push_back(module);
}

std::string Runtime::compile(const std::string& source, const std::string& name,
                             const std::vector<std::string>& options) {
  if (!libs_->hasNvrtc) {
    throw CudaFailure(
        "NVRTC (libnvrtc.so.13 or .12) is needed to compile the kernels for this GPU and was not found; install "
        "the CUDA toolkit or `pip install nvidia-cuda-nvrtc`, or build the package where nvcc exists",
        0, "nvrtc");
  }
  auto& n = libs_->nvrtc;
  nvrtcProgram program = nullptr;
  nvrtcResult r = n.nvrtcCreateProgram(&program, source.c_str(), name.c_str(), 0, nullptr, nullptr);
  if (r != 0) throw CudaFailure(std::string("nvrtcCreateProgram failed: ") + n.nvrtcGetErrorString(r), r, "nvrtc");
  std::vector<const char*> argv;
  for (const auto& o : options) argv.push_back(o.c_str());
  r = n.nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  if (r != 0) {
    size_t logSize = 0;
    n.nvrtcGetProgramLogSize(program, &logSize);
    std::string log(logSize, '\0');
    n.nvrtcGetProgramLog(program, log.data());
    n.nvrtcDestroyProgram(&program);
    throw CudaFailure("NVRTC could not compile " + name + ": " + log.substr(0, 4000), r, "nvrtc");
  }
  size_t size = 0;
  n.nvrtcGetCUBINSize(program, &size);
  std::string cubin(size, '\0');
  n.nvrtcGetCUBIN(program, cubin.data());
  n.nvrtcDestroyProgram(&program);
  return cubin;
}

int Runtime::function(const std::string& name) {
  auto found = functionIndex_.find(name);
  if (found != functionIndex_.end()) return found->second;
  for (CUmodule module : modules_) {
    CUfunction fn = nullptr;
    if (libs_->driver.cuModuleGetFunction(&fn, module, name.c_str()) == CUDA_SUCCESS) {
      // Allow the largest dynamic shared memory the device offers (kernels that ask for more than 48 KiB).
      libs_->driver.cuFuncSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                       std::max(0, device_.sharedOptin - 1024));
      functions_.push_back(fn);
      const int index = static_cast<int>(functions_.size()) - 1;
      functionIndex_[name] = index;
      return index;
    }
  }
  throw CudaFailure("no kernel named " + name + " in the loaded modules", 500, "driver");
}

void Runtime::launch(int function, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned sharedBytes,
                     void* params) {
  void* args[] = {params};
  check(libs_->driver.cuLaunchKernel(functions_.at(function), gx, gy, gz, block, 1, 1, sharedBytes, stream_, args,
                                     nullptr),
        "cuLaunchKernel");
}

void Runtime::upload(CUdeviceptr dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  check(libs_->driver.cuMemcpyHtoDAsync(dst, src, bytes, stream_), "cuMemcpyHtoDAsync");
}

void Runtime::download(void* dst, CUdeviceptr src, size_t bytes) {
  if (bytes > 0) check(libs_->driver.cuMemcpyDtoHAsync(dst, src, bytes, stream_), "cuMemcpyDtoHAsync");
  synchronize();
}

void Runtime::copyDevice(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  if (bytes == 0) return;
  check(libs_->driver.cuMemcpyDtoDAsync(dst, src, bytes, stream_), "cuMemcpyDtoDAsync");
}

void Runtime::fill8(CUdeviceptr dst, unsigned char value, size_t bytes) {
  if (bytes == 0) return;
  check(libs_->driver.cuMemsetD8Async(dst, value, bytes, stream_), "cuMemsetD8Async");
}

void Runtime::fill32(CUdeviceptr dst, unsigned value, size_t count) {
  if (count == 0) return;
  check(libs_->driver.cuMemsetD32Async(dst, value, count, stream_), "cuMemsetD32Async");
}

int Runtime::recordEvent() {
  CUevent event = nullptr;
  check(libs_->driver.cuEventCreate(&event, 0), "cuEventCreate");
  check(libs_->driver.cuEventRecord(event, stream_), "cuEventRecord");
  events_.push_back(event);
  return static_cast<int>(events_.size()) - 1;
}

void Runtime::releaseEvents(int start, int end) {
  // Events are recycled from the end of the list (timings in a row release what they recorded).
  if (end == static_cast<int>(events_.size()) - 1 && start == end - 1) {
    libs_->driver.cuEventDestroy(events_[end]);
    libs_->driver.cuEventDestroy(events_[start]);
    events_.pop_back();
    events_.pop_back();
  }
}

float Runtime::elapsed(int start, int end) {
  CUevent a = events_.at(start), b = events_.at(end);
  check(libs_->driver.cuEventSynchronize(b), "cuEventSynchronize");
  float ms = 0;
  check(libs_->driver.cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
  return ms;
}

void Runtime::profileRecord(int index) {
  if (index < 0) throw std::runtime_error("profileRecord: the event index must be >= 0");
  while (static_cast<int>(profileEvents_.size()) <= index) {
    CUevent event = nullptr;
    check(libs_->driver.cuEventCreate(&event, 0), "cuEventCreate");
    profileEvents_.push_back(event);
  }
  check(libs_->driver.cuEventRecord(profileEvents_[index], stream_), "cuEventRecord");
}

void Runtime::profileTimes(int count, double* out) {
  if (count <= 0) return;
  if (count > static_cast<int>(profileEvents_.size()))
    throw std::runtime_error("profileTimes: more events asked for than were recorded");
  check(libs_->driver.cuEventSynchronize(profileEvents_[count - 1]), "cuEventSynchronize");
  out[0] = 0;
  for (int i = 1; i < count; i++) {
    float ms = 0;
    check(libs_->driver.cuEventElapsedTime(&ms, profileEvents_[0], profileEvents_[i]), "cuEventElapsedTime");
    out[i] = ms;
  }
}

CUdeviceptr Runtime::workspace(Workspace& w, size_t bytes) {
  if (w.bytes >= bytes) return w.ptr;
  if (w.ptr) allocator_->release(w.ptr);
  w.ptr = allocator_->allocate(bytes);
  w.bytes = bytes;
  return w.ptr;
}

// ── cuBLASLt ─────────────────────────────────────────────────────────────────────────────────────────

namespace {
struct LtObjects {
  const BlasLtApi& api;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t preference = nullptr;
  ~LtObjects() {
    if (preference) api.cublasLtMatmulPreferenceDestroy(preference);
    if (a) api.cublasLtMatrixLayoutDestroy(a);
    if (b) api.cublasLtMatrixLayoutDestroy(b);
    if (c) api.cublasLtMatrixLayoutDestroy(c);
    if (desc) api.cublasLtMatmulDescDestroy(desc);
  }
};
}  // namespace

void Runtime::gemm(const Gemm& g) {
  const auto& api = libs_->blasLt;
  constexpr size_t kWorkspace = 32u << 20;
  CUdeviceptr ws = workspace(blasWorkspace_, kWorkspace);
  const bool f64 = g.dtype == CUDA_R_64F;
  const int scaleType = f64 ? CUDA_R_64F : CUDA_R_32F;
  LtObjects o{api};
  checkBlas(api.cublasLtMatmulDescCreate(&o.desc, g.computeType, scaleType), "cublasLtMatmulDescCreate");
  const int opA = g.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int opB = g.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
  checkBlas(api.cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)), "transA");
  checkBlas(api.cublasLtMatmulDescSetAttribute(o.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)), "transB");
  const uint64_t rowsA = g.transA ? g.k : g.m, colsA = g.transA ? g.m : g.k;
  const uint64_t rowsB = g.transB ? g.n : g.k, colsB = g.transB ? g.k : g.n;
  checkBlas(api.cublasLtMatrixLayoutCreate(&o.a, g.dtype, rowsA, colsA, g.lda), "layout A");
  checkBlas(api.cublasLtMatrixLayoutCreate(&o.b, g.dtype, rowsB, colsB, g.ldb), "layout B");
  checkBlas(api.cublasLtMatrixLayoutCreate(&o.c, g.dtype, g.m, g.n, g.ldc), "layout C");
  if (g.batch > 1) {
    const int32_t batch = static_cast<int32_t>(g.batch);
    cublasLtMatrixLayout_t layouts[] = {o.a, o.b, o.c};
    const int64_t strides[] = {g.strideA, g.strideB, g.strideC};
    for (int i = 0; i < 3; i++) {
      checkBlas(api.cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                     sizeof(batch)),
                "batch count");
      checkBlas(api.cublasLtMatrixLayoutSetAttribute(layouts[i], CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                                     &strides[i], sizeof(strides[i])),
                "batch stride");
    }
  }
  std::ostringstream key;
  key << g.dtype << ',' << g.computeType << ',' << g.transA << g.transB << ',' << g.m << ',' << g.n << ',' << g.k
      << ',' << g.lda << ',' << g.ldb << ',' << g.ldc << ',' << g.batch << ',' << g.strideA << ',' << g.strideB
      << ',' << g.strideC << ',' << (g.beta != 0) << ',' << (g.a % 16) << (g.b % 16) << (g.c % 16);
  auto cached = algoCache_.find(key.str());
  const cublasLtMatmulAlgo_t* algo = nullptr;
  if (cached != algoCache_.end()) {
    algo = &cached->second;
  } else {
    checkBlas(api.cublasLtMatmulPreferenceCreate(&o.preference), "preference");
    const uint64_t wsBytes = kWorkspace;
    checkBlas(api.cublasLtMatmulPreferenceSetAttribute(o.preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &wsBytes, sizeof(wsBytes)),
              "workspace preference");
    cublasLtMatmulHeuristicResult_t results[8];
    std::memset(results, 0, sizeof(results));
    int found = 0;
    const int wanted = tuneGemm_ && g.beta == 0 ? 8 : 1;
    cublasStatus_t status = api.cublasLtMatmulAlgoGetHeuristic(blasLt_, o.desc, o.a, o.b, o.c, o.c, o.preference,
                                                               wanted, results, &found);
    if (status == 0 && found > 0) {
      int best = 0;
      if (found > 1) {
        // Time each candidate on this very product (beta = 0: every run overwrites C, so trying is
        // harmless) and keep the fastest for every later product of the same shape.
        float alpha32 = static_cast<float>(g.alpha), beta32 = 0.f;
        const void* alpha = f64 ? static_cast<const void*>(&g.alpha) : &alpha32;
        const void* beta = f64 ? static_cast<const void*>(&g.beta) : &beta32;
        float bestMs = 0;
        for (int i = 0; i < found; i++) {
          if (results[i].state != 0) continue;
          float ms = 0;
          bool ok = true;
          for (int repeat = 0; repeat < 2 && ok; repeat++) {
            const int start = recordEvent();
            ok = api.cublasLtMatmul(blasLt_, o.desc, alpha, reinterpret_cast<const void*>(g.a), o.a,
                                    reinterpret_cast<const void*>(g.b), o.b, beta, reinterpret_cast<const void*>(g.c),
                                    o.c, reinterpret_cast<void*>(g.c), o.c, &results[i].algo,
                                    reinterpret_cast<void*>(ws), kWorkspace, stream_) == 0;
            const int end = recordEvent();
            const float t = elapsed(start, end);
            releaseEvents(start, end);
            ms = repeat == 0 ? t : std::min(ms, t);
          }
          if (ok && (bestMs == 0 || ms < bestMs)) {
            bestMs = ms;
            best = i;
          }
        }
      }
      algo = &(algoCache_[key.str()] = results[best].algo);
    }
  }
  float alpha32 = static_cast<float>(g.alpha), beta32 = static_cast<float>(g.beta);
  const void* alpha = f64 ? static_cast<const void*>(&g.alpha) : &alpha32;
  const void* beta = f64 ? static_cast<const void*>(&g.beta) : &beta32;
  checkBlas(api.cublasLtMatmul(blasLt_, o.desc, alpha, reinterpret_cast<const void*>(g.a), o.a,
                               reinterpret_cast<const void*>(g.b), o.b, beta, reinterpret_cast<const void*>(g.c), o.c,
                               reinterpret_cast<void*>(g.c), o.c, algo, reinterpret_cast<void*>(ws), kWorkspace,
                               stream_),
            "cublasLtMatmul");
}

// ── cuSOLVER ─────────────────────────────────────────────────────────────────────────────────────────

void Runtime::checkInfo(CUdeviceptr info, const char* what) {
  int value = 0;
  download(&value, info, sizeof(int));
  allocator_->release(info);
  if (value != 0) {
    throw CudaFailure(std::string(what) + " reported info = " + std::to_string(value) +
                          (value > 0 ? " (the iteration did not converge)" : " (an argument was invalid)"),
                      value, "cusolver-info");
  }
}

void Runtime::svd(int m, int n, CUdeviceptr a, CUdeviceptr s, CUdeviceptr u, CUdeviceptr vt, bool full) {
  const auto& api = libs_->solver;
  int lwork = 0;
  checkSolver(api.cusolverDnDgesvd_bufferSize(solver_, m, n, &lwork), "cusolverDnDgesvd_bufferSize");
  const int k = std::min(m, n);
  CUdeviceptr work = workspace(solverWorkspace_, static_cast<size_t>(lwork + k) * sizeof(double));
  CUdeviceptr info = allocator_->allocate(sizeof(int));
  const signed char job = full ? 'A' : 'S';
  checkSolver(api.cusolverDnDgesvd(solver_, job, job, m, n, reinterpret_cast<double*>(a), m,
                                   reinterpret_cast<double*>(s), reinterpret_cast<double*>(u), m,
                                   reinterpret_cast<double*>(vt), full ? n : k, reinterpret_cast<double*>(work), lwork,
                                   reinterpret_cast<double*>(work) + lwork, reinterpret_cast<int*>(info)),
              "cusolverDnDgesvd");
  checkInfo(info, "cusolverDnDgesvd");
}

void Runtime::qr(int m, int n, CUdeviceptr a, CUdeviceptr tau) {
  const auto& api = libs_->solver;
  int lwork = 0;
  checkSolver(api.cusolverDnDgeqrf_bufferSize(solver_, m, n, reinterpret_cast<double*>(a), m, &lwork),
              "cusolverDnDgeqrf_bufferSize");
  CUdeviceptr work = workspace(solverWorkspace_, static_cast<size_t>(std::max(lwork, 1)) * sizeof(double));
  CUdeviceptr info = allocator_->allocate(sizeof(int));
  checkSolver(api.cusolverDnDgeqrf(solver_, m, n, reinterpret_cast<double*>(a), m, reinterpret_cast<double*>(tau),
                                   reinterpret_cast<double*>(work), lwork, reinterpret_cast<int*>(info)),
              "cusolverDnDgeqrf");
  checkInfo(info, "cusolverDnDgeqrf");
}

void Runtime::orgqr(int m, int n, int k, CUdeviceptr a, CUdeviceptr tau) {
  const auto& api = libs_->solver;
  int lwork = 0;
  checkSolver(api.cusolverDnDorgqr_bufferSize(solver_, m, n, k, reinterpret_cast<const double*>(a), m,
                                              reinterpret_cast<const double*>(tau), &lwork),
              "cusolverDnDorgqr_bufferSize");
  CUdeviceptr work = workspace(solverWorkspace_, static_cast<size_t>(std::max(lwork, 1)) * sizeof(double));
  CUdeviceptr info = allocator_->allocate(sizeof(int));
  checkSolver(api.cusolverDnDorgqr(solver_, m, n, k, reinterpret_cast<double*>(a), m,
                                   reinterpret_cast<const double*>(tau), reinterpret_cast<double*>(work), lwork,
                                   reinterpret_cast<int*>(info)),
              "cusolverDnDorgqr");
  checkInfo(info, "cusolverDnDorgqr");
}

void Runtime::eigh(int n, CUdeviceptr a, CUdeviceptr w) {
  const auto& api = libs_->solver;
  int lwork = 0;
  checkSolver(api.cusolverDnDsyevd_bufferSize(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                              reinterpret_cast<const double*>(a), n,
                                              reinterpret_cast<const double*>(w), &lwork),
              "cusolverDnDsyevd_bufferSize");
  CUdeviceptr work = workspace(solverWorkspace_, static_cast<size_t>(std::max(lwork, 1)) * sizeof(double));
  CUdeviceptr info = allocator_->allocate(sizeof(int));
  checkSolver(api.cusolverDnDsyevd(solver_, CUSOLVER_EIG_MODE_VECTOR, CUBLAS_FILL_MODE_LOWER, n,
                                   reinterpret_cast<double*>(a), n, reinterpret_cast<double*>(w),
                                   reinterpret_cast<double*>(work), lwork, reinterpret_cast<int*>(info)),
              "cusolverDnDsyevd");
  checkInfo(info, "cusolverDnDsyevd");
}

}  // namespace cuda
