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
 */
import type { Dtype, JsStorage } from '@lorakit/tensor';
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
  const buffer = Buffer.allocUnsafeSlow(bytes).buffer;
  const out = view(dtype, buffer, size);
  if (bytes >= HUGE_PAGES_FROM && tuned) native?.adviseHugePages(out);
  return out;
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
