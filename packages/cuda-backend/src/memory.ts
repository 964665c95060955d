/** Memory statistics, a limit, and device-side timing, for users and benchmarks. */
import { getDevice } from './device.js';

export interface CudaMemoryStats {
  /** Bytes handed out to live tensors (rounded to the allocator's block sizes). */
  readonly inUse: number;
  /** Bytes held in the allocator's free lists, ready for reuse. */
  readonly cached: number;
  /** The largest `inUse` since the start or the last {@link resetPeakMemory}. */
  readonly peakInUse: number;
  /** The limit set with {@link setMemoryLimit} (0: none). */
  readonly limit: number;
  /** cuMemAlloc calls so far (flat in a steady training loop). */
  readonly deviceAllocations: number;
  /** Requests served from the cache. */
  readonly reuses: number;
  readonly requests: number;
  readonly deviceFree: number;
  readonly deviceTotal: number;
}

export function memoryStats(): CudaMemoryStats {
  return getDevice().native.memoryStats();
}

/** Caps the bytes in use; a request past it raises CudaOutOfMemoryError. 0 removes the cap. */
export function setMemoryLimit(bytes: number): void {
  getDevice().native.setMemoryLimit(bytes);
}

/** Returns every cached block to the driver; returns the bytes released. */
export function emptyCache(): number {
  return getDevice().native.emptyCache();
}

export function resetPeakMemory(): void {
  getDevice().native.resetPeak();
}

/** Waits until every queued kernel has run (and raises a pending asynchronous error). */
export function synchronize(): void {
  getDevice().synchronize();
}

/** Milliseconds the device spent on the work `fn` queues, measured with CUDA events. */
export function timeOnDevice(fn: () => void): number {
  const device = getDevice();
  const start = device.native.recordEvent();
  fn();
  const end = device.native.recordEvent();
  return device.native.elapsed(start, end);
}
