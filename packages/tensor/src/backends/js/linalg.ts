import type { View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { eighHost, qrHost, svdHost } from '../../linalg/host.js';
import { copy } from './elementwise.js';
import { allocate, type JsStorage, type NumericArray } from './storage.js';

function toFloat64(x: View): Float64Array {
  return copy(x, 'float64') as Float64Array;
}

function store(values: Float64Array, dtype: Dtype): JsStorage {
  if (dtype === 'float64') return values;
  const out = allocate(dtype, values.length) as NumericArray;
  out.set(values);
  return out;
}

export function svd(x: View, full: boolean): { u: JsStorage; s: JsStorage; vh: JsStorage } {
  const [m, n] = x.shape as [number, number];
  const result = svdHost(toFloat64(x), m, n, full);
  return { u: store(result.u, x.dtype), s: store(result.s, x.dtype), vh: store(result.vh, x.dtype) };
}

export function qr(x: View): { q: JsStorage; r: JsStorage } {
  const [m, n] = x.shape as [number, number];
  const result = qrHost(toFloat64(x), m, n);
  return { q: store(result.q, x.dtype), r: store(result.r, x.dtype) };
}

export function eigh(x: View): { values: JsStorage; vectors: JsStorage } {
  const n = x.shape[0]!;
  const result = eighHost(toFloat64(x), n);
  return { values: store(result.values, x.dtype), vectors: store(result.vectors, x.dtype) };
}
