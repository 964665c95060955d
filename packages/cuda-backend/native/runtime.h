// The device state the addon keeps: one context (the device's primary context), one stream on which
// every kernel, copy and library call is queued in order, the caching allocator, the kernel module and
// the library handles. Everything here is called from Node's main thread only.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "libraries.h"

namespace cuda {

/** A failed CUDA call: `code` is the CUresult / cublasStatus / cusolverStatus, `kind` says which. */
struct CudaFailure : std::runtime_error {
  CudaFailure(const std::string& message, int code, std::string kind)
      : std::runtime_error(message), code(code), kind(std::move(kind)) {}
  int code;
  std::string kind;
};

/** The allocator could not satisfy a request even after releasing every cached block. */
struct OutOfMemory : std::runtime_error {
  OutOfMemory(size_t requested, size_t inUse, size_t free, size_t limit, const std::string& why)
      : std::runtime_error(why), requested(requested), inUse(inUse), free(free), limit(limit) {}
  size_t requested, inUse, free, limit;
};

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, l2Bytes = 0, sharedOptin = 0, driverVersion = 0;
  size_t totalMemory = 0;
};

struct MemoryStats {
  size_t inUse = 0, cached = 0, peakInUse = 0, limit = 0, deviceAllocations = 0, reuses = 0, requests = 0;
};

/**
 * A caching allocator (PyTorch's idea, much simplified): freed blocks go to a free list keyed by their
 * rounded size and are handed out again for requests of that size, so a training step that repeats its
 * shapes makes no cuMemAlloc call after the first step. Every use is queued on the one stream, so a block
 * freed by the host may be reused at once: later work on the stream runs after earlier work.
 */
class Allocator {
 public:
  explicit Allocator(const DriverApi& driver) : driver_(driver) {}
  CUdeviceptr allocate(size_t bytes);
  void release(CUdeviceptr ptr);
  /** Returns every cached block to the driver (cuMemFree); blocks in use stay. */
  size_t emptyCache();
  void setLimit(size_t bytes) { stats_.limit = bytes; }
  const MemoryStats& stats() const { return stats_; }
  static size_t roundSize(size_t bytes);

 private:
  const DriverApi& driver_;
  std::unordered_map<CUdeviceptr, size_t> live_;
  std::map<size_t, std::vector<CUdeviceptr>> free_;
  MemoryStats stats_;
};

class Runtime {
 public:
  static Runtime& instance();
  /** Loads the libraries and creates the context; returns the reasons it cannot (empty when ready). */
  std::vector<std::string> initialize(const std::vector<std::string>& searchDirs, int ordinal);
  bool ready() const { return ready_; }
  const Libraries& libraries() const { return *libs_; }
  const DeviceInfo& device() const { return device_; }
  Allocator& allocator() { return *allocator_; }
  CUstream stream() const { return stream_; }

  void check(CUresult result, const char* what) const;
  void synchronize();

  // Kernels.
  void loadModule(const void* image);
  /** Compiles CUDA source for this device with NVRTC; returns the cubin. */
  std::string compile(const std::string& source, const std::string& name, const std::vector<std::string>& options);
  int function(const std::string& name);
  void launch(int function, unsigned gx, unsigned gy, unsigned gz, unsigned block, unsigned sharedBytes,
              void* params);

  // Memory and copies.
  void upload(CUdeviceptr dst, const void* src, size_t bytes);
  void download(void* dst, CUdeviceptr src, size_t bytes);
  void copyDevice(CUdeviceptr dst, CUdeviceptr src, size_t bytes);
  void fill8(CUdeviceptr dst, unsigned char value, size_t bytes);
  void fill32(CUdeviceptr dst, unsigned value, size_t count);

  // Timing (events on the stream).
  int recordEvent();
  float elapsed(int start, int end);
  void releaseEvents(int start, int end);
  // Profiling: a pool of events that every profile reuses (grown on demand, never shrunk).
  /** Records pooled event `index` on the stream, creating events up to it first. */
  void profileRecord(int index);
  /** Waits for pooled event count-1; writes each pooled event's milliseconds after event 0 into out. */
  void profileTimes(int count, double* out);
  /** Whether a new product shape times cuBLASLt's candidate algorithms (LORAKIT_CUDA_GEMM_TUNE=1). */
  void setGemmTuning(bool on) { tuneGemm_ = on; }

  // cuBLASLt: column-major D = alpha·op(A)·op(B) + beta·C, C = D, with strided batches.
  struct Gemm {
    int dtype, computeType;
    bool transA, transB;
    int64_t m, n, k, lda, ldb, ldc, strideA, strideB, strideC, batch;
    double alpha, beta;
    CUdeviceptr a, b, c;
  };
  void gemm(const Gemm& g);

  // cuSOLVER (float64, column-major, in place on `a`).
  void svd(int m, int n, CUdeviceptr a, CUdeviceptr s, CUdeviceptr u, CUdeviceptr vt, bool full);
  void qr(int m, int n, CUdeviceptr a, CUdeviceptr tau);
  void orgqr(int m, int n, int k, CUdeviceptr a, CUdeviceptr tau);
  void eigh(int n, CUdeviceptr a, CUdeviceptr w);

 private:
  struct Workspace {
    CUdeviceptr ptr = 0;
    size_t bytes = 0;
  };
  CUdeviceptr workspace(Workspace& w, size_t bytes);
  void checkBlas(cublasStatus_t status, const char* what) const;
  void checkSolver(cusolverStatus_t status, const char* what) const;
  void checkInfo(CUdeviceptr info, const char* what);

  Libraries* libs_ = nullptr;
  bool ready_ = false;
  DeviceInfo device_;
  CUcontext context_ = nullptr;
  CUstream stream_ = nullptr;
  Allocator* allocator_ = nullptr;
  std::vector<CUmodule> modules_;
  std::vector<CUfunction> functions_;
  std::unordered_map<std::string, int> functionIndex_;
  std::vector<CUevent> events_;
  std::vector<CUevent> profileEvents_;
  cublasLtHandle_t blasLt_ = nullptr;
  cusolverDnHandle_t solver_ = nullptr;
  Workspace blasWorkspace_, solverWorkspace_;
  std::unordered_map<std::string, cublasLtMatmulAlgo_t> algoCache_;
  bool tuneGemm_ = false;
};

}  // namespace cuda
