/**
 * Dense linear algebra (svd, qr, eigh) on the native layer, in float64 like the JavaScript reference and
 * with its algorithms, conventions and error messages (native/linalg.h): singular values descending with
 * each (uᵢ, vᵢ) pair signed so that uᵢ's largest-magnitude entry is positive; LAPACK's QR signs;
 * eigenvalues ascending with each eigenvector's largest-magnitude entry positive. Results come back in the
 * input's dtype. float16/bfloat16 inputs and empty matrices run on the JavaScript kernels.
 */
import { type Backend, type Dtype, type JsStorage, LinalgError, type View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocate, dtypeCode } from './dtype-codes.js';
import { checkView } from './layout.js';

type Linalg = Pick<Backend<JsStorage>, 'svd' | 'qr' | 'eigh'>;
type Copy = (x: View<JsStorage>, dtype: Dtype) => JsStorage;

/** QR sweeps allowed between two deflations before giving up (the reference's MAX_SWEEPS). */
const MAX_SWEEPS = 75;

function checkFinite(op: string, a: Float64Array): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    // x − x is 0 for finite x and NaN for NaN and ±Infinity.
    if (x - x !== 0) throw new LinalgError(`[${op}] input contains NaN or Infinity`);
  }
}

/** A float64 result in `dtype`, converted as the reference stores it. */
function store(values: Float64Array, dtype: Dtype): JsStorage {
  if (dtype === 'float64') return values;
  const out = allocate(dtype, values.length) as Exclude<JsStorage, Uint16Array>;
  out.set(values);
  return out;
}

export function linalgKernels(native: NativeBinding, js: Backend<JsStorage>, copy: Copy): Linalg {
  // The view as a contiguous float64 matrix, checked for NaN and Infinity.
  function input(op: string, x: View<JsStorage>): Float64Array {
    checkView(op, x);
    const a = copy(x, 'float64') as Float64Array;
    checkFinite(op, a);
    return a;
  }

  function svd(x: View<JsStorage>, full: boolean) {
    const [m, n] = x.shape as [number, number];
    const k = Math.min(m, n);
    if (dtypeCode(x.dtype) === undefined || k === 0) return js.svd(x, full);
    const a = input('svd', x);
    const u = new Float64Array(m * (full ? m : k));
    const s = new Float64Array(k);
    const vh = new Float64Array((full ? n : k) * n);
    if (native.svd(a, m, n, full, MAX_SWEEPS, u, s, vh) !== 0) {
      throw new LinalgError(
        `[svd] did not converge after ${MAX_SWEEPS} QR sweeps on one singular value of a ${m}×${n} matrix`,
      );
    }
    return { u: store(u, x.dtype), s: store(s, x.dtype), vh: store(vh, x.dtype) };
  }

  function qr(x: View<JsStorage>) {
    const [m, n] = x.shape as [number, number];
    const k = Math.min(m, n);
    if (dtypeCode(x.dtype) === undefined || k === 0) return js.qr(x);
    const a = input('qr', x);
    const q = new Float64Array(m * k);
    const r = new Float64Array(k * n);
    native.qr(a, m, n, q, r);
    return { q: store(q, x.dtype), r: store(r, x.dtype) };
  }

  function eigh(x: View<JsStorage>) {
    const n = x.shape[0]!;
    if (dtypeCode(x.dtype) === undefined || n === 0) return js.eigh(x);
    const a = input('eigh', x);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    if (native.eigh(a, n, MAX_SWEEPS, values, vectors) !== 0) {
      throw new LinalgError(
        `[eigh] did not converge after ${MAX_SWEEPS} QR sweeps on one eigenvalue of a ${n}×${n} matrix`,
      );
    }
    return { values: store(values, x.dtype), vectors: store(vectors, x.dtype) };
  }

  return { svd, qr, eigh };
}
