/**
 * svd, qr and eigh through cuSOLVER, in float64 (the contract computes dense linear algebra in float64
 * and returns x's dtype). cuSOLVER is column-major: a row-major matrix is the column-major storage of
 * its transpose, which often saves the transposition (the wide SVD needs none).
 */
import type { Dtype } from '@lorakit/tensor';
import { type Context, elementwiseKernels } from './elementwise.js';
import type { CudaStorage, CudaView } from './storage.js';

export function linalgKernels(context: Context) {
  const { device, memory } = context;
  const elementwise = elementwiseKernels(context);
  const native = device.native;

  /** A contiguous float64 copy of a view given by shape and strides of `storage`. */
  const f64 = (storage: CudaStorage, dtype: Dtype, shape: number[], strides: number[], offset = 0) =>
    elementwise.copy({ storage, dtype, shape, strides, offset }, 'float64');
  /** A row-major [rows, cols] copy in `dtype` of a column-major rows×cols float64 matrix with leading dimension ld. */
  const fromColumnMajor = (a: CudaStorage, rows: number, cols: number, ld: number, dtype: Dtype) =>
    elementwise.copy(
      { storage: a, dtype: 'float64', shape: [rows, cols], strides: [1, ld], offset: 0 },
      dtype,
    );
  const asIs = (a: CudaStorage, rows: number, cols: number, dtype: Dtype) =>
    elementwise.copy(
      { storage: a, dtype: 'float64', shape: [rows, cols], strides: [cols, 1], offset: 0 },
      dtype,
    );

  function svd(x: CudaView, full: boolean): { u: CudaStorage; s: CudaStorage; vh: CudaStorage } {
    const [m, n] = x.shape as [number, number];
    const k = Math.min(m, n);
    const dtype = x.dtype;
    const temporaries: CudaStorage[] = [];
    try {
      const wide = n >= m;
      // Wide: the row-major copy is the column-major n×m matrix Xᵀ = U_b S V_bᵀ, so u = V_b, vh = U_bᵀ.
      // Tall: factor X itself (its column-major copy) and transpose both factors back.
      const rows = wide ? n : m;
      const cols = wide ? m : n;
      const a = wide
        ? f64(x.storage, dtype, [m, n], [...x.strides], x.offset)
        : f64(x.storage, dtype, [n, m], [x.strides[1]!, x.strides[0]!], x.offset);
      temporaries.push(a);
      const ku = full ? rows : k;
      const kv = full ? cols : k;
      const s = memory.allocate('float64', k, 'svd');
      const u = memory.allocate('float64', rows * ku, 'svd');
      const vt = memory.allocate('float64', kv * cols, 'svd');
      temporaries.push(s, u, vt);
      if (k > 0)
        device.call('svd', () => native.svd(rows, cols, a.pointer, s.pointer, u.pointer, vt.pointer, full));
      const sOut = elementwise.copy(
        { storage: s, dtype: 'float64', shape: [k], strides: [1], offset: 0 },
        dtype,
      );
      if (wide) {
        // U_b (n×ku, col-major) read row-major is [ku, n] = vh; VT_b (kv×m, col-major) read row-major is [m, kv] = u.
        return { u: asIs(vt, m, kv, dtype), s: sOut, vh: asIs(u, ku, n, dtype) };
      }
      return { u: fromColumnMajor(u, m, ku, m, dtype), s: sOut, vh: fromColumnMajor(vt, kv, n, kv, dtype) };
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function qr(x: CudaView): { q: CudaStorage; r: CudaStorage } {
    const [m, n] = x.shape as [number, number];
    const k = Math.min(m, n);
    const dtype = x.dtype;
    const a = f64(x.storage, dtype, [n, m], [x.strides[1]!, x.strides[0]!], x.offset);
    const tau = memory.allocate('float64', Math.max(k, 1), 'qr');
    const r64 = memory.allocate('float64', k * n, 'qr');
    try {
      if (k > 0) device.call('qr', () => native.qr(m, n, a.pointer, tau.pointer));
      if (k * n > 0) {
        device.params.begin().int(r64.pointer).int(a.pointer).int(m).int(n).int(k);
        device.launch('qr', 'upper_triangle', device.blocksFor(k * n), 256);
      }
      if (k > 0) device.call('qr', () => native.orgqr(m, k, k, a.pointer, tau.pointer));
      const q = fromColumnMajor(a, m, k, m, dtype);
      const r = asIs(r64, k, n, dtype);
      return { q, r };
    } finally {
      memory.dispose(a);
      memory.dispose(tau);
      memory.dispose(r64);
    }
  }

  function eigh(x: CudaView): { values: CudaStorage; vectors: CudaStorage } {
    const n = x.shape[0]!;
    const dtype = x.dtype;
    // Column-major storage of X (the lower triangle cuSOLVER reads is X's lower triangle).
    const a = f64(x.storage, dtype, [n, n], [x.strides[1]!, x.strides[0]!], x.offset);
    const w = memory.allocate('float64', Math.max(n, 1), 'eigh');
    try {
      if (n > 0) device.call('eigh', () => native.eigh(n, a.pointer, w.pointer));
      const values = elementwise.copy(
        { storage: w, dtype: 'float64', shape: [n], strides: [1], offset: 0 },
        dtype,
      );
      const vectors = fromColumnMajor(a, n, n, n, dtype);
      return { values, vectors };
    } finally {
      memory.dispose(a);
      memory.dispose(w);
    }
  }

  return { svd, qr, eigh };
}
