// Reductions, arg-reductions and softmax. A group of threads handles one output (one line): a whole
// block when the line is long, one warp otherwise (`perBlock`). Sums and products accumulate in double,
// as the JavaScript reference does.
#pragma once
#include "common.cuh"

struct SumOp {
  __device__ static double apply(double a, double b) { return a + b; }
};
struct ProdOp {
  __device__ static double apply(double a, double b) { return a * b; }
};
/** max/min that let NaN win (the reference returns NaN for a line holding one). */
struct MaxOp {
  __device__ static double apply(double a, double b) { return (isnan(a) || a > b) ? a : (isnan(b) ? b : b); }
};
struct MinOp {
  __device__ static double apply(double a, double b) { return (isnan(a) || a < b) ? a : (isnan(b) ? b : b); }
};

template <typename Op>
__device__ double warp_reduce(double v) {
  for (int o = 16; o > 0; o >>= 1) v = Op::apply(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

/** Reduces over the group (the block, or the warp); every thread of the group gets the result. */
template <typename Op>
__device__ double group_reduce(double v, bool perBlock, double identity) {
  v = warp_reduce<Op>(v);
  if (!perBlock) return v;
  __shared__ double partial[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  double total = lane < warps ? partial[lane] : identity;
  return warp_reduce<Op>(total);
}

/** This thread's group, the number of groups in the grid and its lane within the group. */
struct Group {
  i64 id, count;
  int lane, size;
  __device__ Group(bool perBlock) {
    if (perBlock) {
      id = blockIdx.x;
      count = gridDim.x;
      lane = threadIdx.x;
      size = blockDim.x;
    } else {
      const int warpsPerBlock = blockDim.x >> 5;
      id = (i64)blockIdx.x * warpsPerBlock + (threadIdx.x >> 5);
      count = (i64)gridDim.x * warpsPerBlock;
      lane = threadIdx.x & 31;
      size = 32;
    }
  }
};

struct ReduceParams {
  void* out;
  i64 outDtype;
  i64 op;  // 0 sum, 1 prod, 2 max, 3 min, 4 argmax, 5 argmin
  const void* x;
  i64 xDtype;
  i64 xOffset;
  i64 nOut;
  i64 nInner;
  i64 perBlock;
  i64 outRank;
  i64 outDims[MAXD];
  i64 outStrides[MAXD];
  i64 inRank;
  i64 inDims[MAXD];
  i64 inStrides[MAXD];
};

template <typename Op>
__device__ double reduce_line(const ReduceParams& p, const Group& g, i64 base, double identity) {
  double acc = identity;
  for (i64 j = g.lane; j < p.nInner; j += g.size) {
    const i64 at = base + strided_offset((int)p.inRank, p.inDims, p.inStrides, j);
    acc = Op::apply(acc, load<double>(p.x, (int)p.xDtype, at));
  }
  return group_reduce<Op>(acc, p.perBlock != 0, identity);
}

extern "C" __global__ void reduce_lines(const ReduceParams p) {
  const Group g(p.perBlock != 0);
  // Every thread of a block runs the same number of iterations when perBlock (uniform __syncthreads).
  for (i64 o = g.id; o < p.nOut; o += g.count) {
    const i64 base = p.xOffset + strided_offset((int)p.outRank, p.outDims, p.outStrides, o);
    double r;
    switch ((int)p.op) {
      case 0: r = reduce_line<SumOp>(p, g, base, 0.0); break;
      case 1: r = reduce_line<ProdOp>(p, g, base, 1.0); break;
      case 2: r = reduce_line<MaxOp>(p, g, base, -__longlong_as_double(0x7ff0000000000000LL)); break;
      default: r = reduce_line<MinOp>(p, g, base, __longlong_as_double(0x7ff0000000000000LL)); break;
    }
    if (g.lane == 0) store<double>(p.out, (int)p.outDtype, o, r);
  }
}

/** (value, index) pairs: the first NaN wins, then the best value, then the smaller index. */
__device__ __forceinline__ bool arg_better(double v, i64 i, double bv, i64 bi, bool isMax) {
  const bool vn = isnan(v), bn = isnan(bv);
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == bv) return i < bi;
  return isMax ? v > bv : v < bv;
}

extern "C" __global__ void arg_reduce_lines(const ReduceParams p) {
  const Group g(p.perBlock != 0);
  const bool isMax = p.op == 4;
  __shared__ double sv[32];
  __shared__ i64 si[32];
  for (i64 o = g.id; o < p.nOut; o += g.count) {
    const i64 base = p.xOffset + strided_offset((int)p.outRank, p.outDims, p.outStrides, o);
    double best = 0;
    i64 bestIndex = -1;
    for (i64 j = g.lane; j < p.nInner; j += g.size) {
      const double v = load<double>(p.x, (int)p.xDtype, base + j * p.inStrides[0]);
      if (bestIndex < 0 || arg_better(v, j, best, bestIndex, isMax)) {
        best = v;
        bestIndex = j;
      }
    }
    for (int s = 16; s > 0; s >>= 1) {
      const double ov = __shfl_xor_sync(0xffffffffu, best, s);
      const i64 oi = __shfl_xor_sync(0xffffffffu, bestIndex, s);
      if (oi >= 0 && (bestIndex < 0 || arg_better(ov, oi, best, bestIndex, isMax))) {
        best = ov;
        bestIndex = oi;
      }
    }
    if (p.perBlock) {
      const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
      __syncthreads();
      if (lane == 0) {
        sv[warp] = best;
        si[warp] = bestIndex;
      }
      __syncthreads();
      if (threadIdx.x == 0) {
        for (int w = 1; w < warps; w++) {
          if (si[w] >= 0 && (bestIndex < 0 || arg_better(sv[w], si[w], best, bestIndex, isMax))) {
            best = sv[w];
            bestIndex = si[w];
          }
        }
      }
    }
    if (g.lane == 0) ((i64*)p.out)[o] = bestIndex < 0 ? 0 : bestIndex;
  }
}

struct SoftmaxParams {
  void* out;
  const void* x;
  i64 dtype;
  i64 xOffset;
  i64 n;
  i64 step;
  i64 outStep;
  i64 lines;
  i64 log;
  i64 perBlock;
  i64 outerRank;
  i64 outerDims[MAXD];
  i64 outerIn[MAXD];
  i64 outerOut[MAXD];
};

extern "C" __global__ void softmax_lines(const SoftmaxParams p) {
  const Group g(p.perBlock != 0);
  const bool perBlock = p.perBlock != 0;
  const int dt = (int)p.dtype;
  for (i64 line = g.id; line < p.lines; line += g.count) {
    const i64 base = p.xOffset + strided_offset((int)p.outerRank, p.outerDims, p.outerIn, line);
    const i64 outBase = strided_offset((int)p.outerRank, p.outerDims, p.outerOut, line);
    double max = -__longlong_as_double(0x7ff0000000000000LL);
    for (i64 j = g.lane; j < p.n; j += g.size) max = MaxOp::apply(max, load<double>(p.x, dt, base + j * p.step));
    max = group_reduce<MaxOp>(max, perBlock, -__longlong_as_double(0x7ff0000000000000LL));
    if (max == -__longlong_as_double(0x7ff0000000000000LL)) max = 0;
    double sum = 0;
    for (i64 j = g.lane; j < p.n; j += g.size) sum += exp(load<double>(p.x, dt, base + j * p.step) - max);
    sum = group_reduce<SumOp>(sum, perBlock, 0.0);
    const double logSum = log(sum) + max;
    for (i64 j = g.lane; j < p.n; j += g.size) {
      const double v = load<double>(p.x, dt, base + j * p.step);
      store<double>(p.out, dt, outBase + j * p.outStep, p.log ? v - logSum : exp(v - max) / sum);
    }
  }
}
