// Host stand-in for kernels/common.cuh: what the flash kernels use, in plain C++ (see emulator.cpp).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "runtime.h"

typedef long long i64;
typedef unsigned long long u64;

#define DT_F32 0
#define DT_F64 1
#define DT_F16 2
#define DT_BF16 3

inline float half_to_float(unsigned short h) {
  _Float16 value;
  std::memcpy(&value, &h, 2);
  return (float)value;
}
inline unsigned short float_to_half(float f) {
  _Float16 value = (_Float16)f;
  unsigned short h;
  std::memcpy(&h, &value, 2);
  return h;
}
inline float bf16_to_float(unsigned short b) { return __uint_as_float(((unsigned)b) << 16); }
inline unsigned short float_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (unsigned short)((u >> 16) | 0x40);
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

template <typename T>
inline void store(void* p, int dtype, i64 i, T v) {
  switch (dtype) {
    case DT_F32: ((float*)p)[i] = (float)v; break;
    case DT_F16: ((unsigned short*)p)[i] = float_to_half((float)v); break;
    case DT_BF16: ((unsigned short*)p)[i] = float_to_bf16((float)v); break;
    default: ((double*)p)[i] = (double)v; break;
  }
}

inline float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

#define GRID_STRIDE(i, n) \
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)
