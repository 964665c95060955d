/**
 * Loads the addon (build/Release or prebuilds/, through node-gyp-build). The addon itself links no CUDA
 * library: it finds them with dlopen when `initialize` is called, so loading it never fails for want of
 * CUDA — only for want of a build.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports (native/addon.cc). Pointers are device addresses as numbers (< 2⁵³). */
export interface NativeBinding {
  initialize(
    searchDirs: string[],
    ordinal: number,
  ): {
    ready: boolean;
    problems: string[];
    device?: {
      name: string;
      major: number;
      minor: number;
      multiprocessors: number;
      l2Bytes: number;
      sharedOptin: number;
      driverVersion: number;
      totalMemory: number;
    };
    libraries?: { cublasLt: string; cublasLtVersion: number; cusolver: string; nvrtc: string };
  };
  loadModule(image: Uint8Array): void;
  compile(source: string, name: string, options: string[]): Uint8Array;
  getFunction(name: string): number;
  launch(
    fn: number,
    gx: number,
    gy: number,
    gz: number,
    block: number,
    sharedBytes: number,
    params: ArrayBuffer,
  ): void;
  alloc(bytes: number): number;
  free(pointer: number): void;
  upload(pointer: number, data: ArrayBufferView): void;
  download(pointer: number, into: ArrayBufferView): void;
  copyDevice(dst: number, src: number, bytes: number): void;
  fill8(pointer: number, value: number, bytes: number): void;
  fill32(pointer: number, value: number, count: number): void;
  synchronize(): void;
  memoryStats(): {
    inUse: number;
    cached: number;
    peakInUse: number;
    limit: number;
    deviceAllocations: number;
    reuses: number;
    requests: number;
    deviceFree: number;
    deviceTotal: number;
  };
  setMemoryLimit(bytes: number): void;
  emptyCache(): number;
  resetPeak(): void;
  recordEvent(): number;
  elapsed(start: number, end: number): number;
  /** Records pooled profiling event `index` on the stream (the pool grows to it). */
  profileRecord(index: number): void;
  /** Waits for pooled event count − 1; writes each pooled event's milliseconds after event 0 into `out`. */
  profileTimes(count: number, out: Float64Array): void;
  gemm(parameters: Float64Array): void;
  setGemmTuning(on: boolean): void;
  svd(m: number, n: number, a: number, s: number, u: number, vt: number, full: boolean): void;
  qr(m: number, n: number, a: number, tau: number): void;
  orgqr(m: number, n: number, k: number, a: number, tau: number): void;
  eigh(n: number, a: number, w: number): void;
}

/** The package root (where build/ and kernels/ live), from this module's own location. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

let binding: NativeBinding | undefined;
let loadError: string | undefined;
try {
  const require = createRequire(import.meta.url);
  const load = require('node-gyp-build') as (dir: string) => NativeBinding;
  binding = load(packageRoot);
} catch (error) {
  loadError = (error as Error).message.split('\n')[0];
}

/** The addon, or undefined when it is not built (see {@link nativeLoadError}). */
export const native: NativeBinding | undefined = binding;
/** Why the addon did not load. */
export const nativeLoadError: string | undefined = loadError;
