// Finding the CUDA libraries at run time (dlopen) and resolving the entry points the addon uses.
#pragma once

#include <string>
#include <vector>

#include "cuda_api.h"

namespace cuda {

/** What was found: the resolved APIs (null members when a library is missing) and why not. */
struct Libraries {
  DriverApi driver{};
  BlasLtApi blasLt{};
  SolverApi solver{};
  NvrtcApi nvrtc{};
  bool hasDriver = false;
  bool hasBlasLt = false;
  bool hasSolver = false;
  bool hasNvrtc = false;
  std::string blasLtPath, solverPath, nvrtcPath;
  /** One entry per missing library: "libcublasLt.so.13 or .12 (tried …)". */
  std::vector<std::string> missing;
};

/**
 * Loads the driver, cuBLASLt, cuSOLVER and NVRTC, trying each directory of `searchDirs` first and then
 * the system loader path. Dependencies of cuSOLVER (cuBLAS, cuSPARSE, nvJitLink) are loaded from the same
 * directory first so that a wheel's folder works without LD_LIBRARY_PATH.
 */
Libraries& loadLibraries(const std::vector<std::string>& searchDirs);

}  // namespace cuda
