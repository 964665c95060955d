import type { View } from '../../backend/kernels.js';
import { copy } from './elementwise.js';
import { matmul } from './matmul.js';
import { allocateNumeric, finish, type JsStorage, type NumericArray, numeric } from './storage.js';

/** Rows of a contiguous copy of `x` viewed as [rows, last]. */
function rows(x: View): { data: NumericArray; rows: number; width: number } {
  const width = x.shape[x.shape.length - 1]!;
  const data = numeric({ ...x, storage: copy(x, x.dtype), strides: contiguous(x.shape), offset: 0 }).data;
  return { data, rows: width === 0 ? 0 : data.length / width, width };
}

function contiguous(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function vector(v: View | null, width: number): NumericArray | undefined {
  if (!v) return undefined;
  const data = numeric({ ...v, storage: copy(v, v.dtype), strides: [1], offset: 0 }).data;
  return data.length === width ? data : undefined;
}

/** The JS reference of the fused RMSNorm kernel (accumulates in float64). */
export function rmsNorm(x: View, weight: View | null, eps: number): { out: JsStorage; rstd: JsStorage } {
  const { data, rows: n, width } = rows(x);
  const w = vector(weight, width);
  const out = allocateNumeric(x.dtype, data.length);
  const rstd = allocateNumeric(x.dtype, n);
  for (let r = 0; r < n; r++) {
    let sum = 0;
    const base = r * width;
    for (let j = 0; j < width; j++) sum += data[base + j]! * data[base + j]!;
    const inv = 1 / Math.sqrt(sum / width + eps);
    rstd[r] = inv;
    for (let j = 0; j < width; j++) out[base + j] = data[base + j]! * inv * (w ? w[j]! : 1);
  }
  return { out: finish(x.dtype, out), rstd: finish(x.dtype, rstd) };
}

/** The JS reference of the fused LayerNorm kernel (biased variance, float64 accumulation). */
export function layerNorm(
  x: View,
  weight: View | null,
  bias: View | null,
  eps: number,
): { out: JsStorage; mean: JsStorage; rstd: JsStorage } {
  const { data, rows: n, width } = rows(x);
  const w = vector(weight, width);
  const b = vector(bias, width);
  const out = allocateNumeric(x.dtype, data.length);
  const mean = allocateNumeric(x.dtype, n);
  const rstd = allocateNumeric(x.dtype, n);
  for (let r = 0; r < n; r++) {
    const base = r * width;
    let sum = 0;
    for (let j = 0; j < width; j++) sum += data[base + j]!;
    const mu = sum / width;
    let sq = 0;
    for (let j = 0; j < width; j++) sq += (data[base + j]! - mu) ** 2;
    const inv = 1 / Math.sqrt(sq / width + eps);
    mean[r] = mu;
    rstd[r] = inv;
    for (let j = 0; j < width; j++)
      out[base + j] = (data[base + j]! - mu) * inv * (w ? w[j]! : 1) + (b ? b[j]! : 0);
  }
  return { out: finish(x.dtype, out), mean: finish(x.dtype, mean), rstd: finish(x.dtype, rstd) };
}

function transposed(v: View): View {
  return { ...v, shape: [v.shape[1]!, v.shape[0]!], strides: [v.strides[1]!, v.strides[0]!] };
}

/** The JS reference of the fused LoRA linear: x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ, and h = x·Aᵀ. */
export function loraLinear(
  x: View,
  weight: View,
  bias: View | null,
  a: View,
  b: View,
  scale: number,
): { out: JsStorage; hidden: JsStorage } {
  const base = numeric({ ...x, storage: matmul(x, transposed(weight), x.dtype) } as View).data;
  const hiddenStorage = matmul(x, transposed(a), x.dtype);
  const rowsCount = x.shape[0]!;
  const r = a.shape[0]!;
  const hiddenView: View = {
    storage: hiddenStorage,
    dtype: x.dtype,
    shape: [rowsCount, r],
    strides: [r, 1],
    offset: 0,
  };
  const lora = numeric({ ...hiddenView, storage: matmul(hiddenView, transposed(b), x.dtype) } as View).data;
  const outFeatures = weight.shape[0]!;
  const biasValues = vector(bias, outFeatures);
  const out = allocateNumeric(x.dtype, base.length);
  for (let i = 0; i < base.length; i++)
    out[i] = base[i]! + scale * lora[i]! + (biasValues ? biasValues[i % outFeatures]! : 0);
  return { out: finish(x.dtype, out), hidden: hiddenStorage };
}
