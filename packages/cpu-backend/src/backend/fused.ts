/**
 * The fused kernels of the tensor package's `FusedKernels` for float32: RMSNorm and LayerNorm (one
 * native pass per row, sums in double) and the LoRA linear
 *
 *   out = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ,  hidden = x·Aᵀ,
 *
 * as three GEMM calls writing into one output: the bias rows are laid down first and x·Wᵀ accumulates
 * onto them (beta = 1), h = x·Aᵀ goes to the skinny-product path, and h·Bᵀ accumulates with alpha = s.
 * The output is written by the GEMMs only (no separate add pass) and nothing is copied unless a view
 * cannot be described to BLAS. Other dtypes run on the JavaScript references.
 */
import type { Backend, Dtype, JsStorage, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { sgemm } from '../sgemm.js';
import { allocateOutput } from './allocator.js';
import { checkView, coalesce, sizeOf } from './layout.js';
import { matrixLayout } from './matmul.js';

type Fused = Required<Pick<Backend<JsStorage>, 'rmsNorm' | 'layerNorm' | 'loraLinear'>>;

type Copy = (x: View<JsStorage>, dtype: Dtype) => JsStorage;

interface Rows {
  data: Float32Array;
  offset: number;
  rows: number;
  width: number;
  rowStride: number;
}

export function fusedKernels(native: NativeBinding, js: Backend<JsStorage>, copy: Copy): Fused {
  // x as rows of contiguous floats a fixed stride apart; copied when its layout is not that.
  function rowsOf(x: View<JsStorage>): Rows {
    const rank = x.shape.length;
    const width = x.shape[rank - 1]!;
    const rows = sizeOf(x.shape) / width;
    const leading = coalesce(x.shape.slice(0, -1), [x.strides.slice(0, -1)]);
    const lastContiguous = width === 1 || x.strides[rank - 1] === 1;
    if (lastContiguous && leading.shape.length <= 1) {
      const rowStride = leading.shape.length === 0 ? width : leading.strides[0]![0]!;
      if (rowStride >= 0) {
        return { data: x.storage as Float32Array, offset: x.offset, rows, width, rowStride };
      }
    }
    return { data: copy(x, 'float32') as Float32Array, offset: 0, rows, width, rowStride: width };
  }

  // A length-`width` vector as contiguous floats (weight, bias).
  function vector(v: View<JsStorage> | null): { data: Float32Array | null; offset: number } {
    if (!v) return { data: null, offset: 0 };
    checkView('norm', v);
    if (v.shape.length === 1 && (v.strides[0] === 1 || v.shape[0] === 1)) {
      return { data: v.storage as Float32Array, offset: v.offset };
    }
    return { data: copy(v, 'float32') as Float32Array, offset: 0 };
  }

  const float32 = (views: readonly (View<JsStorage> | null)[]) =>
    views.every((v) => v === null || v.dtype === 'float32');
  const usable = (x: View<JsStorage>) => x.shape.length >= 1 && sizeOf(x.shape) > 0;

  function rmsNorm(x: View<JsStorage>, weight: View<JsStorage> | null, eps: number) {
    if (!float32([x, weight]) || !usable(x)) return js.rmsNorm!(x, weight, eps);
    checkView('rmsNorm', x);
    const r = rowsOf(x);
    const w = vector(weight);
    const out = allocateOutput('float32', r.rows * r.width) as Float32Array;
    const rstd = allocateOutput('float32', r.rows) as Float32Array;
    native.rmsNorm(r.rows, r.width, r.rowStride, r.data, r.offset, w.data, w.offset, eps, out, rstd);
    return { out, rstd };
  }

  function layerNorm(
    x: View<JsStorage>,
    weight: View<JsStorage> | null,
    bias: View<JsStorage> | null,
    eps: number,
  ) {
    if (!float32([x, weight, bias]) || !usable(x)) return js.layerNorm!(x, weight, bias, eps);
    checkView('layerNorm', x);
    const r = rowsOf(x);
    const w = vector(weight);
    const b = vector(bias);
    const out = allocateOutput('float32', r.rows * r.width) as Float32Array;
    const mean = allocateOutput('float32', r.rows) as Float32Array;
    const rstd = allocateOutput('float32', r.rows) as Float32Array;
    native.layerNorm(
      r.rows,
      r.width,
      r.rowStride,
      r.data,
      r.offset,
      w.data,
      w.offset,
      b.data,
      b.offset,
      eps,
      out,
      mean,
      rstd,
    );
    return { out, mean, rstd };
  }

  // A 2-D view as a GEMM operand: (data, offset, trans, ld), copying when BLAS cannot describe it.
  function matrix(v: View<JsStorage>) {
    checkView('loraLinear', v);
    const [rows, cols] = v.shape as [number, number];
    const layout = matrixLayout(rows, cols, v.strides[0]!, v.strides[1]!);
    if (layout) return { data: v.storage as Float32Array, offset: v.offset, ...layout };
    return { data: copy(v, 'float32') as Float32Array, offset: 0, trans: false, ld: Math.max(cols, 1) };
  }

  function loraLinear(
    x: View<JsStorage>,
    weight: View<JsStorage>,
    bias: View<JsStorage> | null,
    a: View<JsStorage>,
    b: View<JsStorage>,
    scale: number,
  ) {
    if (!float32([x, weight, bias, a, b]) || x.shape.length !== 2) {
      return js.loraLinear!(x, weight, bias, a, b, scale);
    }
    const [rows, inFeatures] = x.shape as [number, number];
    const outFeatures = weight.shape[0]!;
    const r = a.shape[0]!;
    if (rows === 0 || outFeatures === 0 || r === 0 || inFeatures === 0) {
      return js.loraLinear!(x, weight, bias, a, b, scale);
    }
    // Written in full: by the bias rows or the first GEMM (beta = 0), and by the second GEMM.
    const out = allocateOutput('float32', rows * outFeatures) as Float32Array;
    const hidden = allocateOutput('float32', rows * r) as Float32Array;
    let beta = 0;
    if (bias) {
      checkView('loraLinear', bias);
      // The bias broadcast over the rows, so that x·Wᵀ accumulates onto it.
      const rowsOfBias = { ...bias, shape: [rows, outFeatures], strides: [0, bias.strides[0]!] };
      out.set(copy(rowsOfBias, 'float32') as Float32Array);
      beta = 1;
    }
    const xm = matrix(x);
    const common = { m: rows, k: inFeatures, a: xm.data, aOffset: xm.offset, transA: xm.trans, lda: xm.ld };
    // op(B) = Wᵀ: W stored [out, in] is Bᵀ stored, so a row-major W means transB.
    const w = matrix(weight);
    sgemm({
      ...common,
      n: outFeatures,
      b: w.data,
      bOffset: w.offset,
      transB: !w.trans,
      ldb: w.ld,
      c: out,
      beta,
    });
    const am = matrix(a);
    sgemm({ ...common, n: r, b: am.data, bOffset: am.offset, transB: !am.trans, ldb: am.ld, c: hidden });
    if (scale !== 0) {
      const bm = matrix(b);
      sgemm({
        m: rows,
        n: outFeatures,
        k: r,
        a: hidden,
        b: bm.data,
        bOffset: bm.offset,
        transB: !bm.trans,
        ldb: bm.ld,
        c: out,
        alpha: scale,
        beta: 1,
      });
    }
    return { out, hidden };
  }

  return { rmsNorm, layerNorm, loraLinear };
}
