// What the CPU and the operating system let this process run, read once from CPUID and XGETBV.
#pragma once

namespace lorakit {

struct CpuFeatures {
  // AVX2 and FMA, with the OS saving the ymm state (XCR0 bits 1 and 2).
  bool avx2_fma = false;
  // AVX-512 F, DQ, BW and VL (and AVX2/FMA), with the OS saving the opmask and zmm state as well
  // (XCR0 bits 1, 2, 5, 6 and 7).
  bool avx512 = false;
};

// Always false on other architectures.
const CpuFeatures& cpu_features();

}  // namespace lorakit
