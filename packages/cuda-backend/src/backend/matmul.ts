/**
 * Matrix products through cuBLASLt. Row-major C = A·B is computed as the column-major Cᵀ = Bᵀ·Aᵀ, so a
 * row-major operand is a column-major operand read with op N and a transposed view is read with op T —
 * no copy for either. bf16/f16 multiply with f32 accumulation; f32 without TF32 unless enabled
 * (`setTf32` or LORAKIT_CUDA_TF32=1); f64 in f64. Integer products use a plain kernel.
 */
import type { Dtype } from '@lorakit/tensor';
import type { Context } from './elementwise.js';
import { address, elementwiseKernels } from './elementwise.js';
import { loraKernels } from './lora.js';
import { coalesce, rowMajor, sizeOf } from './params.js';
import { type CudaStorage, type CudaView, DTYPE_CODE, ELEMENT_BYTES } from './storage.js';

const CUDA_DATA_TYPE: Partial<Record<Dtype, number>> = { float32: 0, float64: 1, float16: 2, bfloat16: 14 };
const COMPUTE_32F = 68;
const COMPUTE_32F_FAST_TF32 = 77;
const COMPUTE_64F = 70;

let tf32 = process.env.LORAKIT_CUDA_TF32 === '1';
/** Lets float32 products use TF32 tensor cores (faster, 10-bit mantissa inputs); off by default. */
export function setTf32(enabled: boolean): void {
  tf32 = enabled;
}
export function tf32Enabled(): boolean {
  return tf32;
}

/** A matrix operand as cuBLAS reads it: transposed or not, and its leading dimension. */
interface Operand {
  readonly trans: boolean;
  readonly ld: number;
}

/**
 * How cuBLAS reads a row-major rows×cols view with strides (rowStride, colStride) as the column-major
 * matrix of its transpose, or undefined when neither stride is 1 (then it must be copied).
 */
function operand(rows: number, cols: number, rowStride: number, colStride: number): Operand | undefined {
  // Strides of size-1 dims are free: choose the ones that make the layout valid.
  const cs = cols === 1 ? 1 : colStride;
  const rs = rows === 1 ? Math.max(cols, 1) : rowStride;
  if (cs === 1 && rs >= Math.max(1, cols)) return { trans: false, ld: rs };
  const rs2 = rows === 1 ? 1 : rowStride;
  const cs2 = cols === 1 ? Math.max(rows, 1) : colStride;
  if (rs2 === 1 && cs2 >= Math.max(1, rows)) return { trans: true, ld: cs2 };
  return undefined;
}

export function matmulKernels(context: Context) {
  const { device, memory } = context;
  const elementwise = elementwiseKernels(context);
  const { skinnyMatmul } = loraKernels(context);
  const parameters = new Float64Array(19);

  /** A view made contiguous (row-major), returned with the storage to dispose afterwards. */
  function contiguous(view: CudaView, dtype: Dtype): { view: CudaView; temporary: CudaStorage } {
    const storage = elementwise.copy(view, dtype);
    return {
      view: { storage, dtype, shape: view.shape, strides: rowMajor(view.shape), offset: 0 },
      temporary: storage,
    };
  }

  /**
   * out[b] = alpha·a[b]·b[b] + beta·out[b] for every batch b, with out row-major contiguous [batch, m, n]
   * at `outPointer`. a: [...batch, m, k], b: [...batch, k, n] of one float dtype, any strides.
   */
  function gemm(a: CudaView, b: CudaView, outPointer: number, alpha = 1, beta = 0): void {
    const temporaries: CudaStorage[] = [];
    try {
      const rank = a.shape.length;
      const m = a.shape[rank - 2]!;
      const k = a.shape[rank - 1]!;
      const n = b.shape[rank - 1]!;
      let left = a;
      let right = b;
      let opA = operand(m, k, left.strides[rank - 2]!, left.strides[rank - 1]!);
      if (!opA) {
        const c = contiguous(left, left.dtype);
        temporaries.push(c.temporary);
        left = c.view;
        opA = operand(m, k, left.strides[rank - 2]!, left.strides[rank - 1]!)!;
      }
      let opB = operand(k, n, right.strides[rank - 2]!, right.strides[rank - 1]!);
      if (!opB) {
        const c = contiguous(right, right.dtype);
        temporaries.push(c.temporary);
        right = c.view;
        opB = operand(k, n, right.strides[rank - 2]!, right.strides[rank - 1]!)!;
      }
      const batchShape = a.shape.slice(0, -2);
      const batch = coalesce(batchShape, [
        left.strides.slice(0, -2),
        right.strides.slice(0, -2),
        rowMajor([...batchShape, m * n]).slice(0, -1),
      ]);
      const count = sizeOf(batchShape);
      if (count === 0 || m === 0 || n === 0) return;
      const dtype = a.dtype;
      const bytes = ELEMENT_BYTES[dtype];
      // cuBLASLt takes one batch stride per operand: loop over all batch dims but the innermost.
      const inner = batch.shape[batch.shape.length - 1]!;
      const innerStrides = batch.strides.map((s) => s[s.length - 1]!);
      const outerShape = batch.shape.slice(0, -1);
      const outer = sizeOf(outerShape);
      for (let o = 0; o < outer; o++) {
        let offA = left.offset;
        let offB = right.offset;
        let offC = 0;
        let rest = o;
        for (let d = outerShape.length - 1; d >= 0; d--) {
          const i = rest % outerShape[d]!;
          rest = Math.floor(rest / outerShape[d]!);
          offA += i * batch.strides[0]![d]!;
          offB += i * batch.strides[1]![d]!;
          offC += i * batch.strides[2]![d]!;
        }
        const single = count === 1 || inner === 1;
        // Column-major: D (n×m) = op(B-side)·op(A-side).
        parameters[0] = CUDA_DATA_TYPE[dtype]!;
        parameters[1] =
          dtype === 'float64'
            ? COMPUTE_64F
            : dtype === 'float32' && tf32
              ? COMPUTE_32F_FAST_TF32
              : COMPUTE_32F;
        parameters[2] = opB.trans ? 1 : 0;
        parameters[3] = opA.trans ? 1 : 0;
        parameters[4] = n;
        parameters[5] = m;
        parameters[6] = k;
        parameters[7] = opB.ld;
        parameters[8] = opA.ld;
        parameters[9] = n;
        parameters[10] = single ? 0 : innerStrides[1]!;
        parameters[11] = single ? 0 : innerStrides[0]!;
        parameters[12] = single ? 0 : innerStrides[2]!;
        parameters[13] = single ? 1 : inner;
        parameters[14] = alpha;
        parameters[15] = beta;
        parameters[16] = right.storage.pointer + offB * bytes;
        parameters[17] = left.storage.pointer + offA * bytes;
        parameters[18] = outPointer + offC * bytes;
        if (k === 0) {
          if (beta === 0) device.native.fill8(parameters[18], 0, (single ? 1 : inner) * m * n * bytes);
          continue;
        }
        device.call('matmul', () => device.native.gemm(parameters), `m=${m}, n=${n}, k=${k}, ${dtype}`);
      }
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function matmul(a: CudaView, b: CudaView, outDtype: Dtype): CudaStorage {
    const rank = a.shape.length;
    const m = a.shape[rank - 2]!;
    const n = b.shape[rank - 1]!;
    const batch = sizeOf(a.shape.slice(0, -2));
    const out = memory.allocate(outDtype, batch * m * n, 'matmul');
    if (batch * m * n === 0) return out;
    if (CUDA_DATA_TYPE[outDtype] === undefined) {
      generic(a, b, out, outDtype);
      return out;
    }
    // float32 factors against 16-bit activations, one side narrow: read both as they are.
    if (a.dtype !== b.dtype && outDtype === 'float32' && skinnyMatmul(a, b, out)) return out;
    const temporaries: CudaStorage[] = [];
    try {
      let left = a;
      let right = b;
      if (left.dtype !== outDtype) {
        const c = contiguous(left, outDtype);
        temporaries.push(c.temporary);
        left = c.view;
      }
      if (right.dtype !== outDtype) {
        const c = contiguous(right, outDtype);
        temporaries.push(c.temporary);
        right = c.view;
      }
      device.note('matmul');
      gemm(left, right, out.pointer);
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
    return out;
  }

  /** Integer (or bool) products, accumulated in double as the reference does. */
  function generic(a: CudaView, b: CudaView, out: CudaStorage, outDtype: Dtype): void {
    const rank = a.shape.length;
    const [m, k] = [a.shape[rank - 2]!, a.shape[rank - 1]!];
    const n = b.shape[rank - 1]!;
    const batchShape = a.shape.slice(0, -2);
    const temporaries: CudaStorage[] = [];
    let left = a;
    let right = b;
    let batch = coalesce(batchShape, [left.strides.slice(0, -2), right.strides.slice(0, -2)]);
    if (batch.shape.length > 1) {
      // Materializes broadcast batch dims too: one batch stride per operand is what the kernel takes.
      const ca = contiguous(left, left.dtype);
      const cb = contiguous(right, right.dtype);
      temporaries.push(ca.temporary, cb.temporary);
      left = ca.view;
      right = cb.view;
      batch = coalesce(batchShape, [left.strides.slice(0, -2), right.strides.slice(0, -2)]);
    }
    const count = sizeOf(batchShape);
    const p = device.params.begin();
    p.int(out.pointer).int(DTYPE_CODE[outDtype]).int(count).int(m).int(k).int(n);
    const pack = (v: CudaView, s0: number, s1: number, s2: number) =>
      p.int(v.storage.pointer).int(DTYPE_CODE[v.dtype]).int(v.offset).int(0).ints([s0, s1, s2]);
    pack(left, batch.strides[0]![0] ?? 0, left.strides[rank - 2]!, left.strides[rank - 1]!);
    pack(right, batch.strides[1]![0] ?? 0, right.strides[rank - 2]!, right.strides[rank - 1]!);
    device.launch('matmul', 'matmul_generic', device.blocksFor(count * m * n), 256);
    for (const t of temporaries) memory.dispose(t);
  }

  return { matmul, gemm, address };
}
