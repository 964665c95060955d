/**
 * Memory for the cpu backend's outputs, and the C library's allocator tuned for tensor workloads (once,
 * when the backend is created).
 *
 * Outputs that a kernel writes in full are not zero-filled first (`Buffer.allocUnsafeSlow`), and the
 * large ones are advised for transparent huge pages before the kernel first writes them, so a fresh
 * 64 MiB tensor faults in 32 huge pages instead of 16 384 small ones.
 *
 * V8 allocates ArrayBuffers with malloc/calloc and frees them only when the garbage collector runs, many
 * at once. With glibc's defaults, freed buffers above the (adaptive) mmap threshold are unmapped and the
 * top of the heap is trimmed back to the kernel, so the next step's tensors fault their pages in again —
 * on virtual machines several microseconds per 4 KiB page, which for a training step that allocates
 * hundreds of megabytes costs more than its elementwise arithmetic. Serving buffers up to 32 MiB from the
 * heap and trimming only above 512 MiB of free heap keeps that memory for reuse (what PyTorch gets from
 * freeing tensors as soon as they die). The price: the process keeps up to that much freed memory
 * instead of returning it to the system. `LORAKIT_CPU_MALLOC_TUNING=0` leaves the allocator alone.
 * Without glibc (macOS, musl, Windows) this does nothing.
 *
 * **Recycling.** V8 counts every ArrayBuffer as external memory and runs a collection for about every
 * 64 MiB of new ones; a LoRA training step on a small Llama allocates hundreds of megabytes of
 * short-lived outputs, so without reuse a third of the step goes to the garbage collector. When a
 * tensor's storage is released explicitly (`dispose()`, `tidy`, and the autograd engine's own
 * temporaries), its buffer goes to a pool keyed by byte length, and the next output of that size reuses
 * it: no new external memory, no collection, and memory that is still in cache. Only buffers this module
 * allocated for kernel outputs are pooled, and only whole: never a user's array, a buffer handed out by
 * `toHost`, or one shared with other storages. The pool holds at most `LORAKIT_CPU_POOL_MB` MiB
 * (default 1024; 0 turns recycling off); {@link setMemoryPoolLimit} and {@link releasePooledMemory}
 * change the limit or empty it at run time.
 */
import type { Dtype, JsStorage } from '@lorakit/tensor';
import { CpuBackendError } from '../errors.js';
import type { NativeBinding } from '../native.js';
import { allocate } from './dtype-codes.js';

const MMAP_THRESHOLD = 32 * 2 ** 20; // glibc's upper limit for M_MMAP_THRESHOLD on 64-bit
const TRIM_THRESHOLD = 512 * 2 ** 20;

/** Outputs from this size on are advised for huge pages (a 2 MiB page must fit inside). */
const HUGE_PAGES_FROM = 4 * 2 ** 20;

let tuned: boolean | undefined;
let native: NativeBinding | undefined;

/** Applies the allocator settings once per process; returns whether they are in effect. */
export function tuneAllocator(binding: NativeBinding): boolean {
  native = binding;
  if (!limitSet) {
    pooledLimit = limitFromEnvironment(process.env.LORAKIT_CPU_POOL_MB);
    limitSet = true;
  }
  if (tuned === undefined) {
    tuned =
      process.env.LORAKIT_CPU_MALLOC_TUNING === '0'
        ? false
        : binding.tuneAllocator(MMAP_THRESHOLD, TRIM_THRESHOLD);
  }
  return tuned;
}

const BYTES: Record<Dtype, number> = {
  float32: 4,
  float64: 8,
  int64: 8,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  bool: 1,
};

/** Below this many bytes a zero-filled typed array costs next to nothing; above, the zeroing shows. */
const UNINITIALIZED_FROM = 1 << 16;

/**
 * A fresh storage of `size` elements for a kernel that writes every one of them: large ones come from
 * `Buffer.allocUnsafeSlow` (malloc rather than calloc, so the memory is not zeroed first only to be
 * overwritten). Never use it for outputs that are accumulated into.
 */
export function allocateOutput(dtype: Dtype, size: number): JsStorage {
  const bytes = size * BYTES[dtype];
  if (bytes < UNINITIALIZED_FROM) return allocate(dtype, size);
  const pooled = pool.get(bytes)?.pop();
  if (pooled) {
    pooledBytes -= bytes;
    inPool.delete(pooled);
    return view(dtype, pooled, size);
  }
  const buffer = Buffer.allocUnsafeSlow(bytes).buffer;
  recyclable.add(buffer);
  const out = view(dtype, buffer, size);
  if (bytes >= HUGE_PAGES_FROM && tuned) native?.adviseHugePages(out);
  return out;
}

// ── recycling ──────────────────────────────────────────────────────────────────────────────────────

/** Free buffers by byte length; the last one released is reused first (it is the likeliest in cache). */
const pool = new Map<number, ArrayBufferLike[]>();
let pooledBytes = 0;
/** Read from LORAKIT_CPU_POOL_MB when the backend is created (a bad value is an error there). */
let pooledLimit = 0;
let limitSet = false;
/** Buffers allocateOutput made that no one outside a tensor has seen. */
const recyclable = new WeakSet<ArrayBufferLike>();
const inPool = new WeakSet<ArrayBufferLike>();

function limitFromEnvironment(value: string | undefined): number {
  const DEFAULT_MIB = 1024;
  if (value === undefined || value.trim() === '') return DEFAULT_MIB * 2 ** 20;
  const mib = Number(value);
  if (!Number.isFinite(mib) || mib < 0) {
    throw new CpuBackendError(
      `[cpu backend] LORAKIT_CPU_POOL_MB must be a number of MiB ≥ 0 (0 turns recycling off), received "${value}"`,
    );
  }
  return Math.floor(mib * 2 ** 20);
}

/**
 * Takes back the storage of a tensor whose last view was disposed. Its buffer is pooled for reuse when
 * allocateOutput made it, the storage spans all of it, and the pool has room; anything else is left to
 * the garbage collector.
 */
export function recycleStorage(storage: JsStorage): void {
  const buffer = storage.buffer;
  const bytes = buffer.byteLength;
  if (!recyclable.has(buffer) || inPool.has(buffer)) return;
  if (storage.byteOffset !== 0 || storage.byteLength !== bytes) return;
  if (pooledBytes + bytes > pooledLimit) return;
  let bucket = pool.get(bytes);
  if (!bucket) {
    bucket = [];
    pool.set(bytes, bucket);
  }
  bucket.push(buffer);
  inPool.add(buffer);
  pooledBytes += bytes;
}

/** A storage that leaves the backend as a host array (`toHost`) is the caller's: never pool it. */
export function escapeStorage(storage: JsStorage): void {
  recyclable.delete(storage.buffer);
}

/** What the recycling pool holds now. */
export interface MemoryPoolStats {
  /** Bytes in free buffers waiting for reuse. */
  readonly pooledBytes: number;
  /** Number of free buffers. */
  readonly buffers: number;
  /** The most bytes the pool keeps (`LORAKIT_CPU_POOL_MB`, {@link setMemoryPoolLimit}). */
  readonly limitBytes: number;
}

/** The recycling pool's current size and limit. */
export function memoryPoolStats(): MemoryPoolStats {
  let buffers = 0;
  for (const bucket of pool.values()) buffers += bucket.length;
  return { pooledBytes, buffers, limitBytes: pooledLimit };
}

/**
 * Sets the most bytes of released tensor memory the cpu backend keeps for reuse (0 turns recycling off).
 * Buffers above a lower limit are given back to the garbage collector at once.
 */
export function setMemoryPoolLimit(bytes: number): void {
  if (!Number.isFinite(bytes) || bytes < 0) {
    throw new CpuBackendError(
      `[setMemoryPoolLimit] bytes must be a finite number ≥ 0 (0 turns recycling off), received ${bytes}`,
    );
  }
  pooledLimit = Math.floor(bytes);
  limitSet = true;
  for (const [size, bucket] of pool) {
    while (pooledBytes > pooledLimit && bucket.length > 0) {
      inPool.delete(bucket.pop()!);
      pooledBytes -= size;
    }
    if (bucket.length === 0) pool.delete(size);
    if (pooledBytes <= pooledLimit) break;
  }
}

/**
 * Drops every buffer the pool holds, leaving them to the garbage collector (and, through it, to the C
 * library's allocator). Use it after training to give the memory back; the next allocations start cold.
 */
export function releasePooledMemory(): void {
  pool.clear();
  pooledBytes = 0;
}

function view(dtype: Dtype, buffer: ArrayBufferLike, size: number): JsStorage {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer, 0, size);
    case 'float64':
    case 'int64':
      return new Float64Array(buffer, 0, size);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buffer, 0, size);
    case 'int32':
      return new Int32Array(buffer, 0, size);
    case 'bool':
      return new Uint8Array(buffer, 0, size);
  }
}
