// im2col / col2im for N-d convolutions (N ≤ 3), matrix products of integer dtypes, and the
// triangular extraction QR needs.
#pragma once
#include "common.cuh"

#define MAXS 3

struct ConvParams {
  void* out;  // im2col: columns; col2im: the image accumulator
  i64 outDtype;
  const void* in;
  i64 inDtype;
  i64 batch;
  i64 channels;
  i64 nd;
  i64 kernelSize;  // ∏ kernel
  i64 outSize;     // ∏ outSpatial
  i64 inSize;      // ∏ inputSpatial
  i64 kernel[MAXS];
  i64 stride[MAXS];
  i64 padding[MAXS];
  i64 dilation[MAXS];
  i64 outSpatial[MAXS];
  i64 inSpatial[MAXS];
  // im2col reads a strided image [N, C, ...spatial]; col2im reads contiguous columns.
  i64 inOffset;
  i64 inStrides[2 + MAXS];
};

/** Input spatial position of (kernel offset kf, output position of), or -1 outside the padded image. */
__device__ __forceinline__ i64 conv_source(const ConvParams& p, i64 kf, i64 of, i64* spatial) {
  i64 kpos[MAXS], opos[MAXS];
  for (int d = (int)p.nd - 1; d >= 0; --d) {
    kpos[d] = kf % p.kernel[d];
    kf /= p.kernel[d];
    opos[d] = of % p.outSpatial[d];
    of /= p.outSpatial[d];
  }
  i64 flat = 0;
  for (int d = 0; d < p.nd; d++) {
    const i64 q = opos[d] * p.stride[d] - p.padding[d] + kpos[d] * p.dilation[d];
    if (q < 0 || q >= p.inSpatial[d]) return -1;
    spatial[d] = q;
    flat = flat * p.inSpatial[d] + q;
  }
  return flat;
}

extern "C" __global__ void im2col_kernel(const ConvParams p) {
  const i64 rows = p.channels * p.kernelSize;
  i64 spatial[MAXS];
  GRID_STRIDE(i, p.batch * rows * p.outSize) {
    const i64 column = i % p.outSize;
    const i64 row = (i / p.outSize) % rows;
    const i64 b = i / (p.outSize * rows);
    const i64 c = row / p.kernelSize, kf = row % p.kernelSize;
    double v = 0;
    if (conv_source(p, kf, column, spatial) >= 0) {
      i64 o = p.inOffset + b * p.inStrides[0] + c * p.inStrides[1];
      for (int d = 0; d < p.nd; d++) o += spatial[d] * p.inStrides[2 + d];
      v = load<double>(p.in, (int)p.inDtype, o);
    }
    store<double>(p.out, (int)p.outDtype, i, v);
  }
}

/** The adjoint: every column element adds into the image position it was read from. */
extern "C" __global__ void col2im_kernel(const ConvParams p) {
  const i64 rows = p.channels * p.kernelSize;
  i64 spatial[MAXS];
  GRID_STRIDE(i, p.batch * rows * p.outSize) {
    const i64 column = i % p.outSize;
    const i64 row = (i / p.outSize) % rows;
    const i64 b = i / (p.outSize * rows);
    const i64 c = row / p.kernelSize, kf = row % p.kernelSize;
    const i64 flat = conv_source(p, kf, column, spatial);
    if (flat < 0) continue;
    const double v = load<double>(p.in, (int)p.inDtype, p.inOffset + i);
    const i64 target = (b * p.channels + c) * p.inSize + flat;
    if (p.outDtype == DT_F64) atomicAdd((double*)p.out + target, v);
    else atomicAdd((float*)p.out + target, (float)v);
  }
}

/** Integer (or mixed) batched matrix product, accumulated in double like the reference. */
struct IntMatmulParams {
  void* out;
  i64 outDtype;
  i64 batch, m, k, n;
  Arg a;  // strides: [batch, row, column] after the batch dims were flattened by the caller
  Arg b;
};
extern "C" __global__ void matmul_generic(const IntMatmulParams p) {
  GRID_STRIDE(i, p.batch * p.m * p.n) {
    const i64 col = i % p.n, row = (i / p.n) % p.m, bt = i / (p.n * p.m);
    double acc = 0;
    for (i64 t = 0; t < p.k; t++) {
      acc += load<double>(p.a.ptr, (int)p.a.dtype, p.a.offset + bt * p.a.strides[0] + row * p.a.strides[1] + t * p.a.strides[2]) *
             load<double>(p.b.ptr, (int)p.b.dtype, p.b.offset + bt * p.b.strides[0] + t * p.b.strides[1] + col * p.b.strides[2]);
    }
    store<double>(p.out, (int)p.outDtype, i, acc);
  }
}

/** r [k, n] (row-major) = the upper triangle of the first k rows of a column-major m×n matrix. */
struct TriangleParams {
  double* out;
  const double* a;
  i64 m, n, k;
};
extern "C" __global__ void upper_triangle(const TriangleParams p) {
  GRID_STRIDE(i, p.k * p.n) {
    const i64 r = i / p.n, c = i % p.n;
    p.out[i] = c >= r ? p.a[r + c * p.m] : 0.0;
  }
}
