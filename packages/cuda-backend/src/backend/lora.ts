/**
 * Skinny products of mixed float dtypes (kernels/lora.cuh): the LoRA branch of a 16-bit layer with
 * float32 factors. `skinnyMatmul` takes the products with one side of at most 64 (x·Aᵀ, g·B, gᵀ·h,
 * ghᵀ·x) without a widened copy of the 16-bit operand; `loraExpand` adds s·h·m to the layer's output
 * in one pass. Both accumulate in float32 and sum in a fixed order (deterministic).
 */
import type { Dtype } from '@lorakit/tensor';
import type { Context } from './elementwise.js';
import { sizeOf } from './params.js';
import type { CudaStorage, CudaView } from './storage.js';
import { DTYPE_CODE } from './storage.js';

/** Rows of k staged per shared-memory chunk (LORA_KC in kernels/lora.cuh). */
const CHUNK = 128;
/** The widest narrow side the kernels take (their largest NMAX). */
export const SKINNY_MAX = 64;
const NARROW: readonly Dtype[] = ['float32', 'bfloat16', 'float16'];

export function loraKernels(context: Context) {
  const { device, memory } = context;
  const p = device.params;
  const variant = (n: number) => (n <= 16 ? 16 : 64);

  /** out[i·os0 + j·os1] = Σ_t a[i, t]·b[t, j] for a [m, k] read along k, n ≤ 64. */
  function rows(a: Operand, b: Operand, m: number, k: number, n: number, out: number, os: [number, number]) {
    const nmax = variant(n);
    const perBlock = 8 * (nmax === 16 ? 4 : 1);
    p.begin().int(out).int(a.pointer).int(a.dtype).int(a.offset).int(a.s0).int(a.s1);
    p.int(b.pointer).int(b.dtype).int(b.offset).int(b.s0).int(b.s1);
    p.int(m).int(k).int(n).int(os[0]).int(os[1]);
    const blocks = Math.min(Math.ceil(m / perBlock), device.info.multiprocessors * 16);
    device.launch('matmul', `skinny_rows_${nmax}`, blocks, 256);
  }

  /** out[i·os0 + j·os1] = Σ_t pm[t, i]·q[t, j] for J ≤ 64, the rows t split in chunks summed in order. */
  function columns(
    pm: Operand,
    q: Operand,
    I: number,
    K: number,
    J: number,
    out: number,
    os: [number, number],
  ) {
    const nmax = variant(J);
    const blocksX = Math.ceil(I / 256);
    const wanted = Math.ceil((2 * device.info.multiprocessors) / blocksX);
    const chunks0 = Math.max(1, Math.min(Math.ceil(K / CHUNK), wanted, 65535));
    const chunk = Math.ceil(Math.ceil(K / chunks0) / CHUNK) * CHUNK;
    const chunks = Math.ceil(K / chunk);
    const partial = memory.allocate('float32', chunks * I * J, 'matmul');
    try {
      p.begin().int(partial.pointer).int(pm.pointer).int(pm.dtype).int(pm.offset).int(pm.s0).int(pm.s1);
      p.int(q.pointer).int(q.dtype).int(q.offset).int(q.s0).int(q.s1);
      p.int(I).int(K).int(J).int(chunk);
      device.launch('matmul', `skinny_cols_${nmax}`, blocksX, 256, 0, chunks);
      p.begin().int(partial.pointer).int(out).int(chunks).int(I).int(J).int(os[0]).int(os[1]);
      device.launch('matmul', 'chunk_sum', device.blocksFor(I * J), 256);
    } finally {
      memory.dispose(partial);
    }
  }

  /**
   * a·b into the float32 storage `out` ([m, n] row-major) when a and b are 2-D floats of different
   * dtypes (float32 and a 16-bit one) with n ≤ 64 or m ≤ 64 and a layout the kernels read along
   * memory; false otherwise (the caller widens and calls cuBLAS).
   */
  function skinnyMatmul(a: CudaView, b: CudaView, out: CudaStorage): boolean {
    const rank = a.shape.length;
    if (a.dtype === b.dtype || !NARROW.includes(a.dtype) || !NARROW.includes(b.dtype)) return false;
    if (sizeOf(a.shape.slice(0, -2)) !== 1 || sizeOf(b.shape.slice(0, -2)) !== 1) return false;
    const [m, k] = [a.shape[rank - 2]!, a.shape[rank - 1]!];
    const n = b.shape[rank - 1]!;
    const [am, ak] = [a.strides[rank - 2]!, a.strides[rank - 1]!];
    const [bk, bn] = [b.strides[rank - 2]!, b.strides[rank - 1]!];
    if (m * n === 0 || k === 0) return false;
    const A = (s0: number, s1: number) => operand(a, s0, s1);
    const B = (s0: number, s1: number) => operand(b, s0, s1);
    if (n <= SKINNY_MAX && (ak === 1 || k === 1) && m >= k / 8) {
      rows(A(am, ak), B(bk, bn), m, k, n, out.pointer, [n, 1]);
      return true;
    }
    if (n <= SKINNY_MAX && (am === 1 || m === 1)) {
      // C[i, j] = Σ_t a[i, t]·b[t, j] read as Σ_t aᵀ[t, i]·b[t, j], aᵀ contiguous along i.
      columns(A(ak, am), B(bk, bn), m, k, n, out.pointer, [n, 1]);
      return true;
    }
    if (n <= SKINNY_MAX && ak === 1) {
      rows(A(am, ak), B(bk, bn), m, k, n, out.pointer, [n, 1]);
      return true;
    }
    if (m <= SKINNY_MAX && (bn === 1 || n === 1)) {
      // Cᵀ[i, j] = Σ_t b[t, i]·a[j, t]: b contiguous along i, written transposed into C.
      columns(B(bk, bn), A(ak, am), n, k, m, out.pointer, [1, n]);
      return true;
    }
    return false;
  }

  /**
   * round(base + scale·h·m) in base's dtype ([rows, N] contiguous) for a 16-bit base [rows, N], h
   * [rows, r] and m [r, N] in float32, r ≤ 64 (see `loraExpand` in @lorakit/tensor); null otherwise.
   */
  function loraExpand(
    base: CudaView,
    h: CudaView,
    m: CudaView,
    scale: number,
    roundTerm: boolean,
  ): CudaStorage | null {
    if (base.shape.length !== 2 || h.shape.length !== 2 || m.shape.length !== 2) return null;
    if (base.dtype !== 'bfloat16' && base.dtype !== 'float16') return null;
    if (h.dtype !== 'float32' || m.dtype !== 'float32') return null;
    const [rowCount, N] = base.shape as [number, number];
    const r = h.shape[1]!;
    if (r > SKINNY_MAX || h.shape[0] !== rowCount || m.shape[0] !== r || m.shape[1] !== N) return null;
    const out = memory.allocate(base.dtype, rowCount * N, 'loraExpand');
    if (rowCount * N === 0) return out;
    const nmax = variant(r);
    p.begin()
      .int(out.pointer)
      .int(base.storage.pointer)
      .int(DTYPE_CODE[base.dtype])
      .int(base.offset)
      .int(base.strides[0]!)
      .int(base.strides[1]!);
    p.int(h.storage.pointer).int(h.offset).int(h.strides[0]!).int(h.strides[1]!);
    p.int(m.storage.pointer).int(m.offset).int(m.strides[0]!).int(m.strides[1]!);
    p.int(rowCount)
      .int(N)
      .int(r)
      .real(scale)
      .int(roundTerm ? 1 : 0);
    const blocksX = Math.ceil(N / 256);
    const blocksY = Math.max(
      1,
      Math.min(Math.ceil(rowCount / 32), Math.ceil((device.info.multiprocessors * 8) / blocksX)),
    );
    device.launch('loraExpand', `lora_expand_${nmax}`, blocksX, 256, 0, blocksY);
    return out;
  }

  return { skinnyMatmul, loraExpand };
}

/** A 2-D operand as the kernels take it: base pointer, dtype code, offset and two strides (elements). */
interface Operand {
  readonly pointer: number;
  readonly dtype: number;
  readonly offset: number;
  readonly s0: number;
  readonly s1: number;
}

function operand(view: CudaView, s0: number, s1: number): Operand {
  return { pointer: view.storage.pointer, dtype: DTYPE_CODE[view.dtype], offset: view.offset, s0, s1 };
}
