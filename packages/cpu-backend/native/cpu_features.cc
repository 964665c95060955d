// CPUID and XGETBV, compiled for the baseline target (no AVX instruction here). A CPU can report an
// extension that the OS does not enable: a kernel without XSAVE support for the zmm registers (or a
// hypervisor masking XCR0) would fault on the first AVX-512 instruction, so both must agree.
//
// Leaf 1: ECX bit 12 FMA, bit 27 OSXSAVE (XGETBV usable), bit 28 AVX.
// Leaf 7, subleaf 0: EBX bit 5 AVX2, bit 16 AVX512F, bit 17 AVX512DQ, bit 30 AVX512BW, bit 31 AVX512VL.
// XCR0: bit 1 SSE, bit 2 AVX (ymm upper halves), bit 5 opmask, bit 6 ZMM_Hi256, bit 7 Hi16_ZMM.
#include "cpu_features.h"

#include <cstdint>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <immintrin.h>
#include <intrin.h>
#define LORAKIT_X86_MSVC 1
#elif (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define LORAKIT_X86_GNU 1
#endif

namespace lorakit {
namespace {

#if defined(LORAKIT_X86_MSVC) || defined(LORAKIT_X86_GNU)

struct Regs {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

Regs cpuid(uint32_t leaf, uint32_t subleaf) {
  Regs r;
#if defined(LORAKIT_X86_MSVC)
  int out[4];
  __cpuidex(out, static_cast<int>(leaf), static_cast<int>(subleaf));
  r.eax = static_cast<uint32_t>(out[0]);
  r.ebx = static_cast<uint32_t>(out[1]);
  r.ecx = static_cast<uint32_t>(out[2]);
  r.edx = static_cast<uint32_t>(out[3]);
#else
  if (__get_cpuid_max(0, nullptr) < leaf) return r;
  __cpuid_count(leaf, subleaf, r.eax, r.ebx, r.ecx, r.edx);
#endif
  return r;
}

uint64_t xcr0() {
#if defined(LORAKIT_X86_MSVC)
  return _xgetbv(0);
#else
  // The instruction itself, so that this file needs no -mxsave.
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
#endif
}

inline bool bit(uint32_t value, int n) { return ((value >> n) & 1u) != 0; }

CpuFeatures detect() {
  CpuFeatures f;
  const Regs leaf1 = cpuid(1, 0);
  if (!bit(leaf1.ecx, 27) || !bit(leaf1.ecx, 28) || !bit(leaf1.ecx, 12)) return f;  // OSXSAVE, AVX, FMA
  const uint64_t xcr = xcr0();
  constexpr uint64_t kYmmState = (1u << 1) | (1u << 2);
  constexpr uint64_t kZmmState = kYmmState | (1u << 5) | (1u << 6) | (1u << 7);
  if ((xcr & kYmmState) != kYmmState) return f;
  const Regs leaf7 = cpuid(7, 0);
  f.avx2_fma = bit(leaf7.ebx, 5);
  f.avx512 = f.avx2_fma && (xcr & kZmmState) == kZmmState && bit(leaf7.ebx, 16) && bit(leaf7.ebx, 17) &&
             bit(leaf7.ebx, 30) && bit(leaf7.ebx, 31);
  return f;
}

#else

CpuFeatures detect() { return CpuFeatures{}; }

#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace lorakit
