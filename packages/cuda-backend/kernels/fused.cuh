// The optional fused kernels of the backend contract (FusedKernels in @lorakit/tensor): RMSNorm,
// LayerNorm, rotary, the SwiGLU backward, the attention softmax and its backward, the cross-entropy
// gradient and AdamW. Each has a JavaScript reference it is tested against.
#pragma once
#include "reduce.cuh"

/** Rows of a contiguous [rows, width] input; weight/bias contiguous [width] or null. */
struct NormParams {
  void* out;
  void* mean;  // layerNorm only
  void* rstd;
  const void* x;
  const void* weight;
  const void* bias;
  i64 dtype;
  i64 weightDtype;
  i64 biasDtype;
  i64 rows;
  i64 width;
  double eps;
  i64 perBlock;
  i64 layer;      // 0 RMSNorm, 1 LayerNorm
  i64 statDtype;  // dtype of mean and rstd: x's, or float32 for 16-bit x
};

extern "C" __global__ void norm_rows(const NormParams p) {
  const Group g(p.perBlock != 0);
  const bool perBlock = p.perBlock != 0;
  const int dt = (int)p.dtype;
  for (i64 r = g.id; r < p.rows; r += g.count) {
    const i64 base = r * p.width;
    double mu = 0;
    if (p.layer) {
      double sum = 0;
      for (i64 j = g.lane; j < p.width; j += g.size) sum += load<double>(p.x, dt, base + j);
      mu = group_reduce<SumOp>(sum, perBlock, 0.0) / (double)p.width;
    }
    double sq = 0;
    for (i64 j = g.lane; j < p.width; j += g.size) {
      const double v = load<double>(p.x, dt, base + j) - mu;
      sq += v * v;
    }
    sq = group_reduce<SumOp>(sq, perBlock, 0.0);
    const double inv = 1.0 / sqrt(sq / (double)p.width + p.eps);
    if (g.lane == 0) {
      store<double>(p.rstd, (int)p.statDtype, r, inv);
      if (p.layer) store<double>(p.mean, (int)p.statDtype, r, mu);
    }
    for (i64 j = g.lane; j < p.width; j += g.size) {
      double v = p.layer ? (load<double>(p.x, dt, base + j) - mu) * inv : load<double>(p.x, dt, base + j) * inv;
      if (p.weight) v = v * load<double>(p.weight, (int)p.weightDtype, j);
      if (p.bias) v = v + load<double>(p.bias, (int)p.biasDtype, j);
      store<double>(p.out, dt, base + j, v);
    }
  }
}

/**
 * The x-gradient of RMSNorm over contiguous rows: dx = (g·w − x·k)·rstd with k = rstd²·mean(g·w·x),
 * in double, rounded once to x's dtype. weight contiguous [width] or null; rstd [rows] of its own dtype.
 */
struct RmsNormBackwardParams {
  void* dx;
  const void* grad;
  const void* x;
  const void* weight;
  const void* rstd;
  i64 dtype;
  i64 weightDtype;
  i64 rstdDtype;
  i64 rows;
  i64 width;
  i64 perBlock;
};

extern "C" __global__ void rms_norm_backward(const RmsNormBackwardParams p) {
  const Group g(p.perBlock != 0);
  const bool perBlock = p.perBlock != 0;
  const int dt = (int)p.dtype, wt = (int)p.weightDtype;
  for (i64 r = g.id; r < p.rows; r += g.count) {
    const i64 base = r * p.width;
    double dot = 0;
    for (i64 j = g.lane; j < p.width; j += g.size) {
      double gw = load<double>(p.grad, dt, base + j);
      if (p.weight) gw = gw * load<double>(p.weight, wt, j);
      dot += gw * load<double>(p.x, dt, base + j);
    }
    dot = group_reduce<SumOp>(dot, perBlock, 0.0);
    const double rs = load<double>(p.rstd, (int)p.rstdDtype, r);
    const double k = rs * rs * (dot / (double)p.width);
    for (i64 j = g.lane; j < p.width; j += g.size) {
      double gw = load<double>(p.grad, dt, base + j);
      if (p.weight) gw = gw * load<double>(p.weight, wt, j);
      store<double>(p.dx, dt, base + j, (gw - load<double>(p.x, dt, base + j) * k) * rs);
    }
  }
}

/** Rotary embedding in the rotate_half layout; `shape` keeps every dim (the last one is rotated). */
struct RotaryParams {
  Shape shape;
  Arg x;
  Arg cos;
  Arg sin;
  void* out;
  i64 transposed;
};

template <typename T>
__device__ void rotary_body(const RotaryParams& p) {
  const int last = (int)p.shape.rank - 1;
  const i64 width = p.shape.dims[last], half = width / 2;
  const int dt = (int)p.x.dtype;
  GRID_STRIDE(i, p.shape.n) {
    const i64 j = i % width;
    const i64 xo = offset_of(p.shape, p.x, i), co = offset_of(p.shape, p.cos, i), so = offset_of(p.shape, p.sin, i);
    const bool low = j < half;
    const i64 shift = low ? half : -half;
    const T x = load<T>(p.x.ptr, dt, xo);
    const T partner = load<T>(p.x.ptr, dt, xo + shift * p.x.strides[last]);
    const T c = load<T>(p.cos.ptr, dt, co);
    T v;
    if (!p.transposed) {
      const T s = load<T>(p.sin.ptr, dt, so);
      v = low ? x * c - partner * s : x * c + partner * s;
    } else {
      const T s = load<T>(p.sin.ptr, dt, so + shift * p.sin.strides[last]);
      v = low ? x * c + partner * s : x * c - partner * s;
    }
    store<T>(p.out, dt, i, v);
  }
}
extern "C" __global__ void rotary_f32(const RotaryParams p) { rotary_body<float>(p); }
extern "C" __global__ void rotary_f64(const RotaryParams p) { rotary_body<double>(p); }

struct SwigluBackwardParams {
  Shape shape;
  Arg grad;
  Arg gate;
  Arg up;
  void* dGate;  // null when not needed
  void* dUp;
};
extern "C" __global__ void swiglu_backward(const SwigluBackwardParams p) {
  const int dt = (int)p.grad.dtype;
  GRID_STRIDE(i, p.shape.n) {
    const double dy = load<double>(p.grad.ptr, dt, offset_of(p.shape, p.grad, i));
    const double x = load<double>(p.gate.ptr, (int)p.gate.dtype, offset_of(p.shape, p.gate, i));
    const double s = sigmoid_(x);
    if (p.dGate) {
      const double u = load<double>(p.up.ptr, (int)p.up.dtype, offset_of(p.shape, p.up, i));
      store<double>(p.dGate, dt, i, dy * u * s * (1 + x * (1 - s)));
    }
    if (p.dUp) store<double>(p.dUp, dt, i, dy * x * s);
  }
}

/** Rows of [..., queries, keys]; `rowDims`/strides describe the leading dims of x, bias and grad. */
struct AttentionParams {
  void* out;
  const void* x;  // scores, or the incoming gradient for the backward
  const void* y;  // bias (forward, may be null) or probabilities (backward)
  i64 dtype;
  i64 yDtype;
  i64 rows;
  i64 queries;
  i64 keys;
  double scale;
  i64 causal;
  i64 perBlock;
  i64 rowRank;
  i64 rowDims[MAXD];
  i64 xOffset;
  i64 xRowStrides[MAXD];
  i64 xStep;
  i64 yOffset;
  i64 yRowStrides[MAXD];
  i64 yStep;
};

extern "C" __global__ void attention_softmax(const AttentionParams p) {
  const Group g(p.perBlock != 0);
  const bool perBlock = p.perBlock != 0;
  const double negInf = -__longlong_as_double(0x7ff0000000000000LL);
  for (i64 r = g.id; r < p.rows; r += g.count) {
    const i64 xb = p.xOffset + strided_offset((int)p.rowRank, p.rowDims, p.xRowStrides, r);
    const i64 yb = p.yOffset + strided_offset((int)p.rowRank, p.rowDims, p.yRowStrides, r);
    i64 limit = p.keys;
    if (p.causal) limit = min(p.keys, (r % p.queries) + p.keys - p.queries + 1);
    double max = negInf;
    for (i64 j = g.lane; j < limit; j += g.size) {
      double v = p.scale * load<double>(p.x, (int)p.dtype, xb + j * p.xStep);
      if (p.y) v += load<double>(p.y, (int)p.yDtype, yb + j * p.yStep);
      max = MaxOp::apply(max, v);
    }
    max = group_reduce<MaxOp>(max, perBlock, negInf);
    if (max == negInf) max = 0;
    double sum = 0;
    for (i64 j = g.lane; j < limit; j += g.size) {
      double v = p.scale * load<double>(p.x, (int)p.dtype, xb + j * p.xStep);
      if (p.y) v += load<double>(p.y, (int)p.yDtype, yb + j * p.yStep);
      sum += exp(v - max);
    }
    sum = group_reduce<SumOp>(sum, perBlock, 0.0);
    for (i64 j = g.lane; j < p.keys; j += g.size) {
      double out = 0;
      if (j < limit) {
        double v = p.scale * load<double>(p.x, (int)p.dtype, xb + j * p.xStep);
        if (p.y) v += load<double>(p.y, (int)p.yDtype, yb + j * p.yStep);
        out = exp(v - max) / sum;
      }
      store<double>(p.out, (int)p.dtype, r * p.keys + j, out);
    }
  }
}

extern "C" __global__ void attention_softmax_backward(const AttentionParams p) {
  const Group g(p.perBlock != 0);
  const bool perBlock = p.perBlock != 0;
  for (i64 r = g.id; r < p.rows; r += g.count) {
    const i64 gb = p.xOffset + strided_offset((int)p.rowRank, p.rowDims, p.xRowStrides, r);
    const i64 pb = p.yOffset + strided_offset((int)p.rowRank, p.rowDims, p.yRowStrides, r);
    double dot = 0;
    for (i64 j = g.lane; j < p.keys; j += g.size)
      dot += load<double>(p.x, (int)p.dtype, gb + j * p.xStep) * load<double>(p.y, (int)p.yDtype, pb + j * p.yStep);
    dot = group_reduce<SumOp>(dot, perBlock, 0.0);
    for (i64 j = g.lane; j < p.keys; j += g.size) {
      const double gj = load<double>(p.x, (int)p.dtype, gb + j * p.xStep);
      const double pj = load<double>(p.y, (int)p.yDtype, pb + j * p.yStep);
      store<double>(p.out, (int)p.yDtype, r * p.keys + j, p.scale * pj * (gj - dot));
    }
  }
}

/** exp(logProbs)·g − onehot(target)·g per row, each step rounded to the dtype (T). */
struct CrossEntropyParams {
  void* out;
  Arg logProbs;  // strides [row, class]
  Arg grad;      // strides [row]
  Arg target;    // strides [row]
  i64 rows;
  i64 classes;
};
template <typename T>
__device__ void ce_backward_body(const CrossEntropyParams& p) {
  const int dt = (int)p.logProbs.dtype;
  GRID_STRIDE(i, p.rows * p.classes) {
    const i64 r = i / p.classes, c = i - r * p.classes;
    const T g = load<T>(p.grad.ptr, (int)p.grad.dtype, p.grad.offset + r * p.grad.strides[0]);
    const T lp = load<T>(p.logProbs.ptr, dt, p.logProbs.offset + r * p.logProbs.strides[0] + c * p.logProbs.strides[1]);
    T v = (T)exp(lp);
    v = v * g;
    const i64 t = (i64)load<double>(p.target.ptr, (int)p.target.dtype, p.target.offset + r * p.target.strides[0]);
    if (c == t) v = v - g;
    store<T>(p.out, dt, i, v);
  }
}
extern "C" __global__ void ce_backward_f32(const CrossEntropyParams p) { ce_backward_body<float>(p); }
extern "C" __global__ void ce_backward_f64(const CrossEntropyParams p) { ce_backward_body<double>(p); }

/** One AdamW step in place, operation for operation as `adamwStep` of the JavaScript backend. */
struct AdamWParams {
  void* param;
  const void* grad;
  void* expAvg;
  void* expAvgSq;
  void* maxExpAvgSq;  // null without AMSGrad
  i64 n;
  i64 decays;
  i64 small;
  double decay, lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps;
};

/** The AdamW coefficients of one update, in the dtype (see adamwCoefficients in src/backend/fused.ts). */
template <typename T>
struct AdamWScalars {
  T decay, lerp, beta2, omb2, bc2, step, eps;
  bool decays, small;
};

/** Element i of one parameter's update: exactly the arithmetic of the composed ops. */
template <typename T>
__device__ __forceinline__ void adamw_element(T* param, const T* grad, T* m, T* v, T* vmax, i64 i,
                                              const AdamWScalars<T>& c) {
  const T decay = c.decay, lerp = c.lerp, beta2 = c.beta2, omb2 = c.omb2, bc2 = c.bc2, step = c.step, eps = c.eps;
  {
    const T pi = c.decays ? param[i] * decay : param[i];
    const T gi = grad[i], mi = m[i];
    const T diff = gi - mi;
    const T mNew = c.small ? mi + diff * lerp : gi - diff * lerp;
    m[i] = mNew;
    const T vNew = v[i] * beta2 + gi * omb2 * gi;
    v[i] = vNew;
    T second = vNew;
    if (vmax) {
      const T previous = vmax[i];
      second = (isnan(previous) || isnan(vNew)) ? (T)__int_as_float(0x7fc00000) : (previous > vNew ? previous : vNew);
      vmax[i] = second;
    }
    const T denom = sqrt(second) / bc2 + eps;
    param[i] = pi + (mNew * step) / denom;
  }
}

template <typename T, typename P>
__device__ __forceinline__ AdamWScalars<T> adamw_scalars(const P& p) {
  AdamWScalars<T> c;
  c.decay = (T)p.decay;
  c.lerp = (T)p.lerpWeight;
  c.beta2 = (T)p.beta2;
  c.omb2 = (T)p.oneMinusBeta2;
  c.bc2 = (T)p.biasCorrection2Sqrt;
  c.step = (T)p.negStepSize;
  c.eps = (T)p.eps;
  c.decays = p.decays != 0;
  c.small = p.small != 0;
  return c;
}

template <typename T>
__device__ void adamw_body(const AdamWParams& p) {
  const AdamWScalars<T> c = adamw_scalars<T>(p);
  GRID_STRIDE(i, p.n) {
    adamw_element<T>((T*)p.param, (const T*)p.grad, (T*)p.expAvg, (T*)p.expAvgSq, (T*)p.maxExpAvgSq, i, c);
  }
}
extern "C" __global__ void adamw_f32(const AdamWParams p) { adamw_body<float>(p); }
extern "C" __global__ void adamw_f64(const AdamWParams p) { adamw_body<double>(p); }

/**
 * One AdamW update of up to ADAMW_MULTI parameters of one dtype and step in one launch (multi-tensor
 * AdamW): blockIdx.y picks the parameter, blocks along x stride over its elements. The same arithmetic
 * as adamw_f32/adamw_f64 element by element.
 */
#define ADAMW_MULTI 48
struct AdamWMultiParams {
  i64 count;
  i64 decays;
  i64 small;
  double decay, lerpWeight, beta2, oneMinusBeta2, biasCorrection2Sqrt, negStepSize, eps;
  void* param[ADAMW_MULTI];
  const void* grad[ADAMW_MULTI];
  void* expAvg[ADAMW_MULTI];
  void* expAvgSq[ADAMW_MULTI];
  void* maxExpAvgSq[ADAMW_MULTI];
  i64 n[ADAMW_MULTI];
};

template <typename T>
__device__ void adamw_multi_body(const AdamWMultiParams& p) {
  const int t = blockIdx.y;
  if (t >= p.count) return;
  const AdamWScalars<T> c = adamw_scalars<T>(p);
  T* param = (T*)p.param[t];
  const T* grad = (const T*)p.grad[t];
  T* m = (T*)p.expAvg[t];
  T* v = (T*)p.expAvgSq[t];
  T* vmax = (T*)p.maxExpAvgSq[t];
  GRID_STRIDE(i, p.n[t]) adamw_element<T>(param, grad, m, v, vmax, i, c);
}
extern "C" __global__ void adamw_multi_f32(const AdamWMultiParams p) { adamw_multi_body<float>(p); }
extern "C" __global__ void adamw_multi_f64(const AdamWMultiParams p) { adamw_multi_body<double>(p); }
