// Shared definitions of lorakit's CUDA kernels. No CUDA header is included, so the same source compiles
// with nvcc (at build time) and with NVRTC (at first use on machines without nvcc).
//
// Every kernel takes one struct parameter whose fields are all 8 bytes wide (pointers, 64-bit integers,
// doubles), so TypeScript packs it as a flat array of 8-byte slots in declaration order (src/backend/
// params.ts). Operands arrive as strided views: a pointer, a dtype code, an offset and one stride per
// dimension of the shared logical shape, in elements; broadcast dimensions have stride 0.
#pragma once

#define MAXD 8
typedef long long i64;
typedef unsigned long long u64;

// Dtype codes: the order of DTYPE_CODES in src/backend/dtype-codes.ts.
#define DT_F32 0
#define DT_F64 1
#define DT_F16 2
#define DT_BF16 3
#define DT_I32 4
#define DT_I64 5
#define DT_BOOL 6

struct Arg {
  const void* ptr;
  i64 dtype;
  i64 offset;
  i64 contiguous;  // 1 when element i of the shape is at offset + i
  i64 strides[MAXD];
};

struct Shape {
  i64 n;     // elements
  i64 rank;  // dims used in `dims`
  i64 dims[MAXD];
};

// ── element conversions (16-bit floats by bits, as @lorakit/safetensors encodes them) ──────────────────

__device__ __forceinline__ float half_to_float(unsigned short h) {
  float f;
  asm("{cvt.f32.f16 %0, %1;}" : "=f"(f) : "h"(h));
  return f;
}
__device__ __forceinline__ unsigned short float_to_half(float f) {
  unsigned short h;
  asm("{cvt.rn.f16.f32 %0, %1;}" : "=h"(h) : "f"(f));
  return h;
}
__device__ __forceinline__ float bf16_to_float(unsigned short b) { return __uint_as_float(((unsigned)b) << 16); }
__device__ __forceinline__ unsigned short float_to_bf16(float f) {
  unsigned u = __float_as_uint(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x7fffffu)) return (unsigned short)((u >> 16) | 0x40);
  return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/** JavaScript's ToInt32 (what an Int32Array store does): truncate, wrap modulo 2³², NaN/±∞ → 0. */
__device__ __forceinline__ int to_int32(double v) {
  if (!isfinite(v)) return 0;
  double t = trunc(v);
  if (fabs(t) < 9.0e18) return (int)(unsigned)(u64)(i64)t;
  double m = fmod(t, 4294967296.0);
  if (m < 0) m += 4294967296.0;
  return (int)(unsigned)(u64)m;
}

__device__ __forceinline__ i64 to_int64(double v) { return isfinite(v) ? (i64)trunc(v) : 0; }

template <typename T>
__device__ __forceinline__ T load(const void* p, int dtype, i64 i) {
  switch (dtype) {
    case DT_F32: return (T)((const float*)p)[i];
    case DT_F64: return (T)((const double*)p)[i];
    case DT_F16: return (T)half_to_float(((const unsigned short*)p)[i]);
    case DT_BF16: return (T)bf16_to_float(((const unsigned short*)p)[i]);
    case DT_I32: return (T)((const int*)p)[i];
    case DT_I64: return (T)((const i64*)p)[i];
    default: return (T)((const unsigned char*)p)[i];
  }
}

template <typename T>
__device__ __forceinline__ void store(void* p, int dtype, i64 i, T v) {
  switch (dtype) {
    case DT_F32: ((float*)p)[i] = (float)v; break;
    case DT_F64: ((double*)p)[i] = (double)v; break;
    case DT_F16: ((unsigned short*)p)[i] = float_to_half((float)v); break;
    case DT_BF16: ((unsigned short*)p)[i] = float_to_bf16((float)v); break;
    case DT_I32: ((int*)p)[i] = to_int32((double)v); break;
    case DT_I64: ((i64*)p)[i] = to_int64((double)v); break;
    default: ((unsigned char*)p)[i] = v != (T)0 ? 1 : 0; break;
  }
}

/** Offset of logical element i of `shape` in operand `a`. */
__device__ __forceinline__ i64 offset_of(const Shape& s, const Arg& a, i64 i) {
  if (a.contiguous) return a.offset + i;
  i64 off = a.offset;
  if (s.n < 2147483647LL) {
    unsigned r = (unsigned)i;
    for (int d = (int)s.rank - 1; d >= 0; --d) {
      unsigned dim = (unsigned)s.dims[d];
      unsigned q = r / dim;
      off += (i64)(r - q * dim) * a.strides[d];
      r = q;
    }
    return off;
  }
  for (int d = (int)s.rank - 1; d >= 0; --d) {
    i64 q = i / s.dims[d];
    off += (i - q * s.dims[d]) * a.strides[d];
    i = q;
  }
  return off;
}

/** Offset of element i of a shape given as (rank, dims) with the given strides. */
__device__ __forceinline__ i64 strided_offset(int rank, const i64* dims, const i64* strides, i64 i) {
  i64 off = 0;
  for (int d = rank - 1; d >= 0; --d) {
    i64 q = i / dims[d];
    off += (i - q * dims[d]) * strides[d];
    i = q;
  }
  return off;
}

#define GRID_STRIDE(i, n) for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/** Sum over the block (any multiple of 32 threads up to 1024); every thread gets the result. */
template <typename T>
__device__ T block_sum(T v) {
  __shared__ T partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  T total = lane < warps ? partial[lane] : (T)0;
  total = warp_sum(total);
  return total;
}

/** The error flag a device-side check writes: [tag, value]; the first failing check wins. */
struct ErrorFlag {
  i64* slots;
};
