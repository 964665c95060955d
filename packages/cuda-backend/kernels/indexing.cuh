// gather / indexSelect, scatterAdd / indexAdd / scatterAddInPlace, index bounds checks, and the stable
// sort (a bitonic network over (key, original index) pairs, which makes it stable).
#pragma once
#include "common.cuh"

/** Multi-index of flat element i of `dims` (row-major), into pos[0..rank). */
__device__ __forceinline__ void unravel(i64 i, int rank, const i64* dims, i64* pos) {
  for (int d = rank - 1; d >= 0; --d) {
    const i64 q = i / dims[d];
    pos[d] = i - q * dims[d];
    i = q;
  }
}

struct GatherParams {
  void* out;
  i64 dtype;
  i64 n;
  i64 rank;
  i64 axis;
  i64 pickByAxis;  // 0: gather (index has the output's shape); 1: indexSelect (1-D index along `axis`)
  i64 limit;       // x's size along `axis`: out-of-range indices read nothing (their error is pending)
  i64 dims[MAXD];  // output shape
  Arg index;
  Arg x;
};

extern "C" __global__ void gather_kernel(const GatherParams p) {
  i64 pos[MAXD];
  GRID_STRIDE(i, p.n) {
    unravel(i, (int)p.rank, p.dims, pos);
    i64 at;
    if (p.pickByAxis) {
      at = (i64)load<double>(p.index.ptr, (int)p.index.dtype, p.index.offset + pos[p.axis] * p.index.strides[0]);
    } else {
      i64 o = p.index.offset;
      for (int d = 0; d < p.rank; d++) o += pos[d] * p.index.strides[d];
      at = (i64)load<double>(p.index.ptr, (int)p.index.dtype, o);
    }
    if (at < 0 || at >= p.limit) {
      store<double>(p.out, (int)p.dtype, i, 0.0);
      continue;
    }
    i64 xo = p.x.offset;
    for (int d = 0; d < p.rank; d++) xo += (d == p.axis ? at : pos[d]) * p.x.strides[d];
    store<double>(p.out, (int)p.dtype, i, load<double>(p.x.ptr, (int)p.x.dtype, xo));
  }
}

__device__ __forceinline__ void atomic_add(void* p, int dtype, i64 i, double v) {
  switch (dtype) {
    case DT_F32: atomicAdd((float*)p + i, (float)v); break;
    case DT_F64: atomicAdd((double*)p + i, v); break;
    case DT_I32: atomicAdd((int*)p + i, to_int32(v)); break;
    default: atomicAdd((u64*)p + i, (u64)to_int64(v)); break;
  }
}

struct ScatterParams {
  void* out;
  i64 outDtype;
  i64 outOffset;
  i64 n;
  i64 rank;
  i64 axis;
  i64 pickByAxis;  // 0: scatterAdd (index has src's shape); 1: indexAdd (1-D index along `axis`)
  i64 limit;       // the output's size along `axis`: out-of-range indices add nothing
  i64 dims[MAXD];  // src shape
  i64 outStrides[MAXD];
  Arg index;
  Arg src;
};

extern "C" __global__ void scatter_add_kernel(const ScatterParams p) {
  i64 pos[MAXD];
  GRID_STRIDE(i, p.n) {
    unravel(i, (int)p.rank, p.dims, pos);
    i64 at;
    i64 so = p.src.offset;
    for (int d = 0; d < p.rank; d++) so += pos[d] * p.src.strides[d];
    if (p.pickByAxis) {
      at = (i64)load<double>(p.index.ptr, (int)p.index.dtype, p.index.offset + pos[p.axis] * p.index.strides[0]);
    } else {
      i64 o = p.index.offset;
      for (int d = 0; d < p.rank; d++) o += pos[d] * p.index.strides[d];
      at = (i64)load<double>(p.index.ptr, (int)p.index.dtype, o);
    }
    if (at < 0 || at >= p.limit) continue;
    i64 target = p.outOffset;
    for (int d = 0; d < p.rank; d++) target += (d == p.axis ? at : pos[d]) * p.outStrides[d];
    atomic_add(p.out, (int)p.outDtype, target, load<double>(p.src.ptr, (int)p.src.dtype, so));
  }
}

/** Records the first index outside [low, high) (and ≠ allowed) in the error flag: [tag, value]. */
struct CheckParams {
  i64* flag;
  i64 tag;
  i64 low;
  i64 high;
  i64 hasAllowed;
  i64 allowed;
  Shape shape;
  Arg index;
};

extern "C" __global__ void check_bounds(const CheckParams p) {
  GRID_STRIDE(i, p.shape.n) {
    const double v = load<double>(p.index.ptr, (int)p.index.dtype, offset_of(p.shape, p.index, i));
    if (!(v >= (double)p.low && v < (double)p.high) && !(p.hasAllowed && v == (double)p.allowed)) {
      if (atomicCAS((u64*)p.flag, 0ull, (u64)p.tag) == 0ull) p.flag[1] = to_int64(v);
    }
  }
}

// ── stable sort ──────────────────────────────────────────────────────────────────────────────────────

/** Whether (a, ia) sorts before (b, ib): NaN is the largest value; ties keep the original order;
 *  positions ≥ n are padding and go last. */
__device__ __forceinline__ bool sorts_before(double a, i64 ia, double b, i64 ib, bool descending, i64 n) {
  if (ia >= n || ib >= n) return ia < ib;
  const bool an = isnan(a), bn = isnan(b);
  int c = (an || bn) ? (an ? (bn ? 0 : 1) : -1) : (a < b ? -1 : (a > b ? 1 : 0));
  if (descending) c = -c;
  return c < 0 || (c == 0 && ia < ib);
}

struct SortParams {
  void* values;
  i64* indices;
  const void* x;
  i64 dtype;
  i64 xOffset;
  i64 n;
  i64 padded;  // power of two ≥ n
  i64 step;
  i64 outStep;
  i64 lines;
  i64 descending;
  double* keys;  // global-memory path: [lines, padded]
  i64* order;    // global-memory path: [lines, padded]
  i64 k;
  i64 j;
  i64 outerRank;
  i64 outerDims[MAXD];
  i64 outerIn[MAXD];
  i64 outerOut[MAXD];
};

__device__ __forceinline__ void write_sorted(const SortParams& p, i64 line, i64 rank, i64 from) {
  const i64 base = p.xOffset + strided_offset((int)p.outerRank, p.outerDims, p.outerIn, line);
  const i64 outBase = strided_offset((int)p.outerRank, p.outerDims, p.outerOut, line);
  const i64 dst = outBase + rank * p.outStep;
  const i64 src = base + from * p.step;
  switch ((int)p.dtype) {
    case DT_F16:
    case DT_BF16: ((unsigned short*)p.values)[dst] = ((const unsigned short*)p.x)[src]; break;
    case DT_F32:
    case DT_I32: ((unsigned*)p.values)[dst] = ((const unsigned*)p.x)[src]; break;
    case DT_F64:
    case DT_I64: ((u64*)p.values)[dst] = ((const u64*)p.x)[src]; break;
    default: ((unsigned char*)p.values)[dst] = ((const unsigned char*)p.x)[src]; break;
  }
  p.indices[dst] = from;
}

/** One block sorts one line in shared memory (padded ≤ what shared memory holds). */
extern "C" __global__ void sort_shared(const SortParams p) {
  extern __shared__ double shared[];
  double* keys = shared;
  i64* order = (i64*)(shared + p.padded);
  const bool desc = p.descending != 0;
  for (i64 line = blockIdx.x; line < p.lines; line += gridDim.x) {
    const i64 base = p.xOffset + strided_offset((int)p.outerRank, p.outerDims, p.outerIn, line);
    for (i64 t = threadIdx.x; t < p.padded; t += blockDim.x) {
      keys[t] = t < p.n ? load<double>(p.x, (int)p.dtype, base + t * p.step) : 0.0;
      order[t] = t;
    }
    __syncthreads();
    for (i64 k = 2; k <= p.padded; k <<= 1) {
      for (i64 j = k >> 1; j > 0; j >>= 1) {
        for (i64 t = threadIdx.x; t < p.padded; t += blockDim.x) {
          const i64 partner = t ^ j;
          if (partner > t) {
            const bool up = (t & k) == 0;
            const bool swap = up ? sorts_before(keys[partner], order[partner], keys[t], order[t], desc, p.n)
                                 : sorts_before(keys[t], order[t], keys[partner], order[partner], desc, p.n);
            if (swap) {
              const double kt = keys[t];
              keys[t] = keys[partner];
              keys[partner] = kt;
              const i64 ot = order[t];
              order[t] = order[partner];
              order[partner] = ot;
            }
          }
        }
        __syncthreads();
      }
    }
    for (i64 t = threadIdx.x; t < p.n; t += blockDim.x) write_sorted(p, line, t, order[t]);
    __syncthreads();
  }
}

extern "C" __global__ void sort_global_init(const SortParams p) {
  GRID_STRIDE(i, p.lines * p.padded) {
    const i64 line = i / p.padded, t = i - line * p.padded;
    const i64 base = p.xOffset + strided_offset((int)p.outerRank, p.outerDims, p.outerIn, line);
    p.keys[i] = t < p.n ? load<double>(p.x, (int)p.dtype, base + t * p.step) : 0.0;
    p.order[i] = t;
  }
}

/** One compare-exchange stage (k, j) of the bitonic network over every line. */
extern "C" __global__ void sort_global_step(const SortParams p) {
  const bool desc = p.descending != 0;
  GRID_STRIDE(i, p.lines * p.padded) {
    const i64 line = i / p.padded, t = i - line * p.padded;
    const i64 partner = t ^ p.j;
    if (partner <= t) continue;
    const i64 a = line * p.padded + t, b = line * p.padded + partner;
    const bool up = (t & p.k) == 0;
    const bool swap = up ? sorts_before(p.keys[b], p.order[b], p.keys[a], p.order[a], desc, p.n)
                         : sorts_before(p.keys[a], p.order[a], p.keys[b], p.order[b], desc, p.n);
    if (swap) {
      const double kt = p.keys[a];
      p.keys[a] = p.keys[b];
      p.keys[b] = kt;
      const i64 ot = p.order[a];
      p.order[a] = p.order[b];
      p.order[b] = ot;
    }
  }
}

extern "C" __global__ void sort_global_finish(const SortParams p) {
  GRID_STRIDE(i, p.lines * p.n) {
    const i64 line = i / p.n, t = i - line * p.n;
    write_sorted(p, line, t, p.order[line * p.padded + t]);
  }
}

// ── dequantization (bitsandbytes' dequantize_4bit and int8_vectorwise_dequant) ─────────────────────────

struct DequantParams {
  void* out;
  i64 outDtype;
  const int* codes;      // packed bytes, little-endian in int32 words
  const float* absmax;
  const float* codebook;  // 4-bit only: 16 values
  i64 size;
  i64 blocksize;  // 4-bit: elements per absmax
  i64 columns;    // int8: elements per row
  double scale;   // int8: the second factor
};

__device__ __forceinline__ unsigned byte_at(const int* words, i64 k) {
  return ((unsigned)words[k >> 2] >> (8 * (k & 3))) & 0xffu;
}

extern "C" __global__ void dequantize_4bit(const DequantParams p) {
  GRID_STRIDE(i, p.size) {
    const unsigned b = byte_at(p.codes, i >> 1);
    const unsigned code = (i & 1) ? (b & 0xfu) : (b >> 4);
    store<float>(p.out, (int)p.outDtype, i, p.codebook[code] * p.absmax[i / p.blocksize]);
  }
}

extern "C" __global__ void dequantize_int8(const DequantParams p) {
  const float scale = (float)p.scale;
  GRID_STRIDE(i, p.size) {
    const int q = (int)(signed char)(unsigned char)byte_at(p.codes, i);
    store<float>(p.out, (int)p.outDtype, i, ((float)q * p.absmax[i / p.columns]) * scale);
  }
}
