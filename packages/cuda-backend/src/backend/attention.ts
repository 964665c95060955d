/**
 * FlashAttention-2 on the GPU (kernels/flash*.cuh): the optional `flashAttention` and
 * `flashAttentionBackward` kernels of the contract, for float16/bfloat16 heads of 64 or 128 values on
 * compute capability 8.0 or newer. Anything else returns null and the op composes the reference.
 */
import type { FlashAttentionOptions } from '@lorakit/tensor';
import { address, type Context, elementwiseKernels } from './elementwise.js';
import { rowMajor, sizeOf } from './params.js';
import type { CudaStorage, CudaView } from './storage.js';
import { DTYPE_CODE } from './storage.js';

/** Query rows per forward CTA and keys per backward CTA (FLASH_BLOCK in kernels/flash.cuh). */
const BLOCK = 64;
const THREADS = 128;
/** The most CTAs gridDim.y takes. */
const MAX_GRID_Y = 65_535;

/** Shared memory of the forward (q, k, v tiles) and of the backward (k, v, q, dO tiles and dSᵀ), in bytes. */
export function flashSharedBytes(headDim: number): { forward: number; backward: number } {
  const tile = BLOCK * (headDim + 8) * 2;
  return { forward: 3 * tile, backward: 4 * tile + BLOCK * 72 * 2 };
}

/** Whether the kernels read a view directly: rows of D contiguous values on 16-byte boundaries. */
function readsRows(view: CudaView): boolean {
  const [, , , d] = view.shape as [number, number, number, number];
  return (
    (view.strides[3] === 1 || d === 1) &&
    view.strides.slice(0, 3).every((s) => s % 8 === 0) &&
    address(view) % 16 === 0
  );
}

interface Buffers {
  readonly out?: CudaStorage | CudaView;
  readonly lse?: CudaStorage | CudaView;
  readonly dout?: CudaView;
  readonly dq?: CudaStorage;
  readonly dk?: CudaStorage;
  readonly dv?: CudaStorage;
  readonly dqAccum?: CudaStorage;
  readonly delta?: CudaStorage;
}

export function attentionKernels(context: Context) {
  const { device, memory } = context;
  const p = device.params;
  const elementwise = elementwiseKernels(context);
  const major = Number(device.info.computeCapability.split('.')[0]);

  /** The kernel suffix for these inputs, or null when the flash kernels do not take them. */
  function variant(q: CudaView, k: CudaView, v: CudaView): string | null {
    const dtype = q.dtype;
    if ((dtype !== 'bfloat16' && dtype !== 'float16') || k.dtype !== dtype || v.dtype !== dtype) return null;
    const [batch, heads, , headDim] = q.shape as [number, number, number, number];
    if ((headDim !== 64 && headDim !== 128) || k.shape[3] !== headDim || v.shape[3] !== headDim) return null;
    if (!(major >= 8) || batch * heads > MAX_GRID_Y) return null;
    const shared = flashSharedBytes(headDim);
    if (Math.max(shared.forward, shared.backward) > device.info.sharedMemoryPerBlock - 1024) return null;
    return `${dtype === 'bfloat16' ? 'bf16' : 'f16'}_${headDim}`;
  }

  /** The view itself when the kernels read it directly, else a contiguous copy (kept for disposal). */
  function readable(view: CudaView, temporaries: CudaStorage[]): CudaView {
    if (readsRows(view)) return view;
    const storage = elementwise.copy(view, view.dtype);
    temporaries.push(storage);
    return { storage, dtype: view.dtype, shape: view.shape, strides: rowMajor(view.shape), offset: 0 };
  }

  const pointer = (x: CudaStorage | CudaView | undefined): number =>
    x === undefined ? 0 : 'storage' in x ? address(x) : x.pointer;

  /** Writes a FlashParams struct (every field, in declaration order). */
  function pack(
    q: CudaView,
    k: CudaView,
    v: CudaView,
    keyMask: CudaView | null,
    options: FlashAttentionOptions,
    buffers: Buffers,
  ): void {
    const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
    const [, kvHeads, keys] = k.shape as [number, number, number, number];
    p.begin()
      .int(address(q))
      .int(address(k))
      .int(address(v))
      .int(keyMask ? address(keyMask) : 0);
    p.int(pointer(buffers.out)).int(pointer(buffers.lse)).int(pointer(buffers.dout));
    p.int(pointer(buffers.dq)).int(pointer(buffers.dk)).int(pointer(buffers.dv));
    p.int(pointer(buffers.dqAccum)).int(pointer(buffers.delta)).int(DTYPE_CODE[q.dtype]);
    p.int(batch).int(heads).int(kvHeads).int(queries).int(keys).int(headDim);
    p.ints(q.strides.slice(0, 3), 3).ints(k.strides.slice(0, 3), 3).ints(v.strides.slice(0, 3), 3);
    p.ints(buffers.dout ? buffers.dout.strides.slice(0, 3) : [], 3);
    p.ints(keyMask ? keyMask.strides : [], 2);
    p.int(options.causal ? 1 : 0)
      .int(options.window ?? 0)
      .real(options.scale);
  }

  function flashAttention(
    qIn: CudaView,
    kIn: CudaView,
    vIn: CudaView,
    keyMask: CudaView | null,
    options: FlashAttentionOptions,
  ): { out: CudaStorage; logsumexp: CudaStorage } | null {
    const suffix = variant(qIn, kIn, vIn);
    if (suffix === null) return null;
    const temporaries: CudaStorage[] = [];
    try {
      const q = readable(qIn, temporaries);
      const k = readable(kIn, temporaries);
      const v = readable(vIn, temporaries);
      const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
      const size = sizeOf(q.shape);
      const out = memory.allocate(q.dtype, size, 'flashAttention');
      if (size === 0 || k.shape[2] === 0) {
        // No keys at all: every row sees none (output 0, logsumexp −∞).
        device.native.fill8(out.pointer, 0, size * 2);
        return { out, logsumexp: elementwise.full('float32', batch * heads * queries, -Infinity) };
      }
      const logsumexp = memory.allocate('float32', batch * heads * queries, 'flashAttention');
      pack(q, k, v, keyMask, options, { out, lse: logsumexp });
      device.launch(
        'flashAttention',
        `flash_forward_${suffix}`,
        Math.ceil(queries / BLOCK),
        THREADS,
        flashSharedBytes(headDim).forward,
        batch * heads,
      );
      return { out, logsumexp };
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function flashAttentionBackward(
    gradIn: CudaView,
    qIn: CudaView,
    kIn: CudaView,
    vIn: CudaView,
    outIn: CudaView,
    logsumexp: CudaView,
    keyMask: CudaView | null,
    options: FlashAttentionOptions,
  ): { dq: CudaStorage; dk: CudaStorage; dv: CudaStorage } {
    const suffix = variant(qIn, kIn, vIn)!;
    const temporaries: CudaStorage[] = [];
    try {
      const q = readable(qIn, temporaries);
      const k = readable(kIn, temporaries);
      const v = readable(vIn, temporaries);
      const grad = readable(gradIn, temporaries);
      const contiguous = (view: CudaView): CudaView => {
        if (view.offset === 0 && rowMajor(view.shape).every((s, i) => s === view.strides[i])) return view;
        const storage = elementwise.copy(view, view.dtype);
        temporaries.push(storage);
        return { storage, dtype: view.dtype, shape: view.shape, strides: rowMajor(view.shape), offset: 0 };
      };
      const out = contiguous(outIn);
      const lse = contiguous(logsumexp);
      const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
      const [, kvHeads, keys] = k.shape as [number, number, number, number];
      const dq = memory.allocate(q.dtype, sizeOf(q.shape), 'flashAttentionBackward');
      const dk = memory.allocate(q.dtype, sizeOf(k.shape), 'flashAttentionBackward');
      const dv = memory.allocate(q.dtype, sizeOf(v.shape), 'flashAttentionBackward');
      const rows = batch * heads * queries;
      if (rows === 0 || keys === 0) {
        // Nothing attends: every gradient is 0.
        for (const [storage, size] of [
          [dq, sizeOf(q.shape)],
          [dk, sizeOf(k.shape)],
          [dv, sizeOf(v.shape)],
        ] as const)
          device.native.fill8(storage.pointer, 0, size * 2);
        return { dq, dk, dv };
      }
      const dqAccum = memory.zeros('float32', sizeOf(q.shape), 'flashAttentionBackward');
      const delta = memory.allocate('float32', rows, 'flashAttentionBackward');
      temporaries.push(dqAccum, delta);
      const buffers = { out, lse, dout: grad, dq, dk, dv, dqAccum, delta };
      pack(q, k, v, keyMask, options, buffers);
      device.launch('flashAttentionBackward', 'flash_backward_delta', device.blocksFor(rows * 32), 256);
      pack(q, k, v, keyMask, options, buffers);
      device.launch(
        'flashAttentionBackward',
        `flash_backward_${suffix}`,
        Math.ceil(keys / BLOCK),
        THREADS,
        flashSharedBytes(headDim).backward,
        batch * kvHeads,
      );
      pack(q, k, v, keyMask, options, buffers);
      device.launch('flashAttentionBackward', 'flash_backward_dq', device.blocksFor(sizeOf(q.shape)), 256);
      return { dq, dk, dv };
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  return { flashAttention, flashAttentionBackward };
}
