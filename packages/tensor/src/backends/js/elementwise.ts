import type { BinaryOp, UnaryOp, View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import {
  allocateNumeric,
  converter,
  finish,
  invalidate,
  type JsStorage,
  type NumericArray,
  numeric,
} from './storage.js';
import { forEachRow } from './strided.js';

/** erf in float64 accuracy: Taylor series for |x| < 2.5, a continued fraction for erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const y = erfPositive(Math.abs(x));
  return x >= 0 ? y : -y;
}

/** erf(z) for z ≥ 0: Taylor series near 0, Lentz continued fraction for erfc beyond. */
function erfPositive(z: number): number {
  if (z === Number.POSITIVE_INFINITY) return 1;
  if (z < 2.5) {
    let sum = z;
    let term = z;
    const z2 = z * z;
    for (let n = 1; n < 200; n++) {
      term *= -z2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + …))))
  let f = z;
  let c = z;
  let d = 0;
  for (let n = 1; n < 300; n++) {
    const a = n / 2;
    d = z + a * d;
    d = d === 0 ? 1e-300 : 1 / d;
    c = z + a / c;
    if (c === 0) c = 1e-300;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** 1/(1 + e^{−v}), from e^{−|v|} so that nothing overflows. */
export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** v·σ(v), the SiLU (swish) activation. */
export function silu(v: number): number {
  return v >= 0 ? v / (1 + Math.exp(-v)) : (v * Math.exp(v)) / (1 + Math.exp(v));
}

function unaryFunction(op: UnaryOp, params: readonly number[] = []): (v: number) => number {
  switch (op) {
    case 'neg':
      return (v) => -v;
    case 'abs':
      return Math.abs;
    case 'exp':
      return Math.exp;
    case 'log':
      return Math.log;
    case 'sqrt':
      return Math.sqrt;
    case 'rsqrt':
      return (v) => 1 / Math.sqrt(v);
    case 'sin':
      return Math.sin;
    case 'cos':
      return Math.cos;
    case 'tanh':
      return Math.tanh;
    case 'sigmoid':
      return sigmoid;
    case 'relu':
      return (v) => (v > 0 ? v : !Number.isNaN(v) ? 0 : v);
    case 'silu':
      return silu;
    case 'gelu':
      return (v) => 0.5 * v * (1 + erf(v * Math.SQRT1_2));
    case 'gelu_tanh':
      return (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    case 'erf':
      return erf;
    case 'sign':
      return (v) => (v > 0 ? 1 : v < 0 ? -1 : !Number.isNaN(v) ? 0 : v);
    case 'reciprocal':
      return (v) => 1 / v;
    case 'square':
      return (v) => v * v;
    case 'floor':
      return Math.floor;
    case 'ceil':
      return Math.ceil;
    case 'round':
      // Round half to even, like PyTorch.
      return (v) => {
        const r = Math.round(v);
        return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
      };
    case 'not':
      return (v) => (v === 0 ? 1 : 0);
    case 'isnan':
      return (v) => (Number.isNaN(v) ? 1 : 0);
    case 'isinf':
      return (v) => (v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY ? 1 : 0);
    case 'pow_scalar': {
      const p = params[0]!;
      if (p === 2) return (v) => v * v;
      if (p === 0.5) return Math.sqrt;
      return (v) => v ** p;
    }
    case 'clamp': {
      const lo = params[0]!;
      const hi = params[1]!;
      return (v) => (v < lo ? lo : Math.min(v, hi));
    }
  }
}

export function unary(op: UnaryOp, x: View, outDtype: Dtype, params?: readonly number[]): JsStorage {
  const input = numeric(x);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(outDtype, size);
  const f = unaryFunction(op, params);
  const src = input.data;
  let o = 0;
  forEachRow(x.shape, [input.strides], [input.offset], ([start], length, [stride]) => {
    let i = start!;
    for (let j = 0; j < length; j++, i += stride!) out[o++] = f(src[i]!);
  });
  return finish(outDtype, out);
}

function binaryFunction(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add':
      return (a, b) => a + b;
    case 'sub':
      return (a, b) => a - b;
    case 'mul':
      return (a, b) => a * b;
    case 'div':
      return (a, b) => a / b;
    case 'pow':
      return (a, b) => a ** b;
    case 'maximum':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.max(a, b));
    case 'minimum':
      return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? Number.NaN : Math.min(a, b));
    case 'eq':
      return (a, b) => (a === b ? 1 : 0);
    case 'ne':
      return (a, b) => (a !== b ? 1 : 0);
    case 'lt':
      return (a, b) => (a < b ? 1 : 0);
    case 'le':
      return (a, b) => (a <= b ? 1 : 0);
    case 'gt':
      return (a, b) => (a > b ? 1 : 0);
    case 'ge':
      return (a, b) => (a >= b ? 1 : 0);
    case 'and':
      return (a, b) => (a !== 0 && b !== 0 ? 1 : 0);
    case 'or':
      return (a, b) => (a !== 0 || b !== 0 ? 1 : 0);
  }
}

/** Integer division and remainder semantics are never needed: int/int division promotes to float. */
export function binary(op: BinaryOp, a: View, b: View, outDtype: Dtype): JsStorage {
  const left = numeric(a);
  const right = numeric(b);
  const size = a.shape.reduce((x, y) => x * y, 1);
  const out = allocateNumeric(outDtype, size);
  const x = left.data;
  const y = right.data;
  let o = 0;
  const rowLoop = fastRow(op);
  const f = binaryFunction(op);
  forEachRow(
    a.shape,
    [left.strides, right.strides],
    [left.offset, right.offset],
    ([ia, ib], length, [sa, sb]) => {
      if (rowLoop) {
        rowLoop(out, o, x, ia!, sa!, y, ib!, sb!, length);
        o += length;
        return;
      }
      let i = ia!;
      let k = ib!;
      for (let j = 0; j < length; j++, i += sa!, k += sb!) out[o++] = f(x[i]!, y[k]!);
    },
  );
  return finish(outDtype, out);
}

type RowLoop = (
  out: NumericArray,
  o: number,
  x: NumericArray,
  i: number,
  sx: number,
  y: NumericArray,
  k: number,
  sy: number,
  n: number,
) => void;

/** Hand-written inner loops for the hottest ops (no per-element call). */
function fastRow(op: BinaryOp): RowLoop | undefined {
  switch (op) {
    case 'add':
      return (out, o, x, i, sx, y, k, sy, n) => {
        for (let j = 0; j < n; j++, i += sx, k += sy) out[o + j] = x[i]! + y[k]!;
      };
    case 'sub':
      return (out, o, x, i, sx, y, k, sy, n) => {
        for (let j = 0; j < n; j++, i += sx, k += sy) out[o + j] = x[i]! - y[k]!;
      };
    case 'mul':
      return (out, o, x, i, sx, y, k, sy, n) => {
        for (let j = 0; j < n; j++, i += sx, k += sy) out[o + j] = x[i]! * y[k]!;
      };
    case 'div':
      return (out, o, x, i, sx, y, k, sy, n) => {
        for (let j = 0; j < n; j++, i += sx, k += sy) out[o + j] = x[i]! / y[k]!;
      };
    default:
      return undefined;
  }
}

export function where(condition: View, a: View, b: View, outDtype: Dtype): JsStorage {
  const c = numeric(condition);
  const left = numeric(a);
  const right = numeric(b);
  const size = a.shape.reduce((x, y) => x * y, 1);
  const out = allocateNumeric(outDtype, size);
  let o = 0;
  forEachRow(
    a.shape,
    [c.strides, left.strides, right.strides],
    [c.offset, left.offset, right.offset],
    ([ic, ia, ib], length, [sc, sa, sb]) => {
      let i = ic!;
      let j = ia!;
      let k = ib!;
      for (let n = 0; n < length; n++, i += sc!, j += sa!, k += sb!)
        out[o++] = c.data[i] ? left.data[j]! : right.data[k]!;
    },
  );
  return finish(outDtype, out);
}

/** Contiguous copy with dtype conversion. */
export function copy(x: View, dtype: Dtype): JsStorage {
  const input = numeric(x);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const out = allocateNumeric(dtype, size);
  const convert = converter(dtype);
  const src = input.data;
  let o = 0;
  forEachRow(x.shape, [input.strides], [input.offset], ([start], length, [stride]) => {
    let i = start!;
    if (convert) for (let j = 0; j < length; j++, i += stride!) out[o++] = convert(src[i]!);
    else if (stride === 1) {
      out.set(src.subarray(i, i + length), o);
      o += length;
    } else for (let j = 0; j < length; j++, i += stride!) out[o++] = src[i]!;
  });
  return finish(dtype, out);
}

/** Strided in-place write of src into dst (same logical shape), converting to dst's dtype. */
export function assign(dst: View, src: View): void {
  const storage = dst.storage as JsStorage;
  const source = numeric(src);
  if (storage instanceof Uint16Array) {
    // 16-bit floats: materialize the target values, then encode into place.
    const values = copy(src, 'float32') as Float32Array;
    const encoded = finish(dst.dtype, values) as Uint16Array;
    let o = 0;
    forEachRow(dst.shape, [dst.strides], [dst.offset], ([start], length, [stride]) => {
      let i = start!;
      for (let j = 0; j < length; j++, i += stride!) storage[i] = encoded[o++]!;
    });
    invalidate(storage);
    return;
  }
  const target = storage as NumericArray;
  const convert = converter(dst.dtype);
  forEachRow(
    dst.shape,
    [dst.strides, source.strides],
    [dst.offset, source.offset],
    ([id, is], length, [sd, ss]) => {
      let i = id!;
      let k = is!;
      if (convert) for (let j = 0; j < length; j++, i += sd!, k += ss!) target[i] = convert(source.data[k]!);
      else for (let j = 0; j < length; j++, i += sd!, k += ss!) target[i] = source.data[k]!;
    },
  );
}

/** Gathers a view into logical order (used by toHost). */
export function gatherLogical(x: View): NumericArray {
  const input = numeric(x);
  const size = x.shape.reduce((a, b) => a * b, 1);
  const out = new (input.data.constructor as new (n: number) => NumericArray)(size);
  let o = 0;
  forEachRow(x.shape, [input.strides], [input.offset], ([start], length, [stride]) => {
    let i = start!;
    for (let j = 0; j < length; j++, i += stride!) out[o++] = input.data[i]!;
  });
  return out;
}
