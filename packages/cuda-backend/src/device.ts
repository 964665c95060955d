/**
 * The device as the backend sees it: initialization (libraries, GPU, kernel module), launches with
 * packed parameters, allocation, and synchronization with error reporting. One device and one stream per
 * process; every operation is queued on that stream in program order.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LorakitError } from '@lorakit/tensor';
import { Params } from './backend/params.js';
import { CudaKernelError, CudaOutOfMemoryError, CudaUnavailableError, formatBytes } from './errors.js';
import { libraryDirectories } from './libraries.js';
import { type NativeBinding, native, nativeLoadError, packageRoot } from './native.js';

export interface DeviceInfo {
  readonly name: string;
  readonly computeCapability: string;
  readonly multiprocessors: number;
  readonly totalMemory: number;
  readonly l2Bytes: number;
  readonly sharedMemoryPerBlock: number;
  readonly driverVersion: string;
  readonly libraries: { readonly cublasLt: string; readonly cusolver: string; readonly nvrtc: string };
  /** Where the kernels came from: the prebuilt fatbin or an NVRTC compilation (cached on disk). */
  readonly kernels: string;
}

/** A pending device-side check (index bounds): the error to raise if its tag shows up in the flag. */
interface PendingCheck {
  readonly error: (value: number) => Error;
}

const RING = 16;

export class Device {
  readonly #binding: NativeBinding;
  /** What `native` answers: the addon, or a profiler's wrapper of it while one is interposed. */
  #native: NativeBinding;
  readonly info: DeviceInfo;
  readonly params = new Params();
  readonly #functions = new Map<string, number>();
  /** The names of the last RING ops launched, for asynchronous errors. */
  readonly #recent: string[] = [];
  #launches = 0;
  readonly #synchronous: boolean;
  #flag = 0;
  readonly #checks = new Map<number, PendingCheck>();
  #nextTag = 1;
  readonly #flagHost = new BigInt64Array(2);

  constructor(binding: NativeBinding, info: DeviceInfo) {
    this.#binding = binding;
    this.#native = binding;
    this.info = info;
    this.#synchronous = process.env.LORAKIT_CUDA_SYNC === '1';
  }

  /** The native layer every device call goes through (the addon, or a profiler's wrapper of it). */
  get native(): NativeBinding {
    return this.#native;
  }

  /** The addon itself, never a wrapper. */
  get binding(): NativeBinding {
    return this.#binding;
  }

  /**
   * Routes every native call through `wrapper` (see profile.ts), or back to the addon when undefined.
   * Returns whether a wrapper was already interposed.
   */
  interpose(wrapper: NativeBinding | undefined): boolean {
    const busy = this.#native !== this.#binding;
    this.#native = wrapper ?? this.#binding;
    return busy;
  }

  /** The kernel name of a handle from `fn`, or `kernel #handle` for one this device did not look up. */
  kernelName(handle: number): string {
    for (const [name, h] of this.#functions) if (h === handle) return name;
    return `kernel #${handle}`;
  }

  /** A kernel's handle (looked up once). */
  fn(name: string): number {
    let handle = this.#functions.get(name);
    if (handle === undefined) {
      handle = this.native.getFunction(name);
      this.#functions.set(name, handle);
    }
    return handle;
  }

  /** Launches `kernel` with the parameters written into `this.params` since `begin()`. */
  launch(op: string, kernel: string, blocks: number, threads: number, sharedBytes = 0, blocksY = 1): void {
    const handle = this.fn(kernel);
    this.#recent[this.#launches++ % RING] = op;
    try {
      this.native.launch(handle, Math.max(1, blocks), blocksY, 1, threads, sharedBytes, this.params.buffer);
    } catch (error) {
      throw this.#wrap(error, op);
    }
    if (this.#synchronous) this.synchronize(op);
  }

  /** Records a library call (cuBLASLt, cuSOLVER, copies) among the recent ops. */
  note(op: string): void {
    this.#recent[this.#launches++ % RING] = op;
  }

  /** Runs a library call, naming the op (and `detail`) if it fails. */
  call<T>(op: string, body: () => T, detail?: string): T {
    this.note(op);
    try {
      const result = body();
      if (this.#synchronous) this.synchronize(op);
      return result;
    } catch (error) {
      const wrapped = this.#wrap(error, op);
      if (detail && wrapped instanceof CudaKernelError) wrapped.message += ` (${detail})`;
      throw wrapped;
    }
  }

  /** Grid size for a grid-stride loop over n items. */
  blocksFor(n: number, threads = 256): number {
    return Math.max(1, Math.min(Math.ceil(n / threads), this.info.multiprocessors * 16));
  }

  alloc(bytes: number, op: string): number {
    try {
      return this.native.alloc(bytes);
    } catch (error) {
      const e = error as Error & {
        kind?: string;
        requested?: number;
        inUse?: number;
        free?: number;
        limit?: number;
        reason?: string;
      };
      if (e.kind === 'oom') {
        const limit = e.limit ?? 0;
        const why =
          e.reason === 'limit'
            ? `it would pass the memory limit of ${formatBytes(limit)} set with setMemoryLimit`
            : 'the device has no block that large left';
        throw new CudaOutOfMemoryError(
          `[cuda ${op}] out of device memory: requested ${formatBytes(e.requested ?? bytes)}, ${formatBytes(e.inUse ?? 0)} in use by lorakit, ${formatBytes(e.free ?? 0)} free on ${this.info.name} (${why}); dispose tensors you no longer need, run the step inside tidy(), or use a smaller batch`,
          e.requested ?? bytes,
          e.inUse ?? 0,
          e.free ?? 0,
          limit,
        );
      }
      throw this.#wrap(error, op);
    }
  }

  /**
   * Registers a device-side check and returns its tag; the kernel that performs it writes the tag and the
   * offending value into the error flag, and the next synchronization raises `error(value)`.
   */
  check(error: (value: number) => Error): { tag: number; flag: number } {
    if (this.#flag === 0) {
      this.#flag = this.native.alloc(16);
      this.native.fill8(this.#flag, 0, 16);
    }
    const tag = this.#nextTag++;
    this.#checks.set(tag, { error });
    return { tag, flag: this.#flag };
  }

  /** Waits for the stream; raises an asynchronous failure or a failed device-side check. */
  synchronize(op = 'synchronize'): void {
    try {
      this.native.synchronize();
    } catch (error) {
      throw this.#wrap(error, op, true);
    }
    this.#raiseChecks();
  }

  /** Copies device memory to the host (synchronizes) and raises any pending failure. */
  download(pointer: number, into: ArrayBufferView, op: string): void {
    try {
      this.native.download(pointer, into);
    } catch (error) {
      throw this.#wrap(error, op, true);
    }
    this.#raiseChecks();
  }

  #raiseChecks(): void {
    if (this.#checks.size === 0) return;
    this.native.download(this.#flag, this.#flagHost);
    const tag = Number(this.#flagHost[0]);
    const value = Number(this.#flagHost[1]);
    const failed = tag === 0 ? undefined : this.#checks.get(tag);
    this.#checks.clear();
    if (tag !== 0) this.native.fill8(this.#flag, 0, 16);
    if (failed) throw failed.error(value);
  }

  #wrap(error: unknown, op: string, asynchronous = false): Error {
    if (error instanceof CudaOutOfMemoryError || error instanceof LorakitError) return error;
    const message = (error as Error).message;
    if (!asynchronous) return new CudaKernelError(`[cuda ${op}] ${message}`);
    const recent: string[] = [];
    for (let i = Math.max(0, this.#launches - RING); i < this.#launches; i++)
      recent.push(this.#recent[i % RING]!);
    const last = recent.at(-1);
    return new CudaKernelError(
      `[cuda ${op}] an asynchronous CUDA error surfaced here: ${message}. The failing kernel was launched by one of the last ops (newest last): ${recent.join(', ') || '(none)'}${last ? `; run with LORAKIT_CUDA_SYNC=1 to stop at the op that failed` : ''}`,
    );
  }
}

// ── initialization ────────────────────────────────────────────────────────────────────────────────────

let device: Device | undefined;
let unavailable: string | undefined;

/** The device, initializing it on first use; throws CudaUnavailableError with the reason when it cannot. */
export function getDevice(): Device {
  if (device) return device;
  if (unavailable) throw new CudaUnavailableError(unavailable);
  try {
    device = initialize();
    return device;
  } catch (error) {
    unavailable = (error as Error).message;
    throw error instanceof CudaUnavailableError ? error : new CudaUnavailableError(unavailable);
  }
}

/** Why the CUDA backend cannot run here, or undefined when it can (initializes the device). */
export function cudaUnavailableReason(): string | undefined {
  try {
    getDevice();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function initialize(): Device {
  if (!native) {
    throw new CudaUnavailableError(
      `the @lorakit/cuda-backend addon is not built (${nativeLoadError ?? 'unknown reason'}); run \`pnpm --filter @lorakit/cuda-backend build:native\``,
    );
  }
  const ordinal = Number(process.env.LORAKIT_CUDA_DEVICE ?? 0);
  const result = native.initialize(libraryDirectories(), ordinal);
  if (!result.ready || !result.device || !result.libraries) {
    // Without the driver nothing else matters (a machine with no NVIDIA GPU): name only that.
    const driver = result.problems.find((p) => p.includes('libcuda'));
    throw new CudaUnavailableError(`missing ${driver ?? (result.problems.join('; ') || 'a usable GPU')}`);
  }
  const d = result.device;
  const kernels = loadKernels(native, d.major, d.minor);
  native.setGemmTuning(process.env.LORAKIT_CUDA_GEMM_TUNE === '1');
  const version = (v: number) => `${Math.floor(v / 1000)}.${(v % 1000) / 10}`;
  return new Device(native, {
    name: d.name,
    computeCapability: `${d.major}.${d.minor}`,
    multiprocessors: d.multiprocessors,
    totalMemory: d.totalMemory,
    l2Bytes: d.l2Bytes,
    sharedMemoryPerBlock: d.sharedOptin,
    driverVersion: version(d.driverVersion),
    libraries: result.libraries,
    kernels,
  });
}

/** The kernel source with its includes inlined (what NVRTC compiles when no fatbin fits). */
export function kernelSource(): string {
  const dir = join(packageRoot, 'kernels');
  const seen = new Set<string>();
  const inline = (file: string): string => {
    if (seen.has(file)) return '';
    seen.add(file);
    return readFileSync(join(dir, file), 'utf8')
      .replace(/^#pragma once$/m, '')
      .replace(/^#include "([^"]+)"$/gm, (_, name: string) => inline(name));
  };
  return inline('lorakit.cu');
}

/** Loads build/kernels.fatbin, or compiles the source with NVRTC for this device (cached on disk). */
function loadKernels(binding: NativeBinding, major: number, minor: number): string {
  const fatbin = join(packageRoot, 'build', 'kernels.fatbin');
  let fatbinError = 'no prebuilt build/kernels.fatbin (nvcc was not found when the package was built)';
  if (existsSync(fatbin) && process.env.LORAKIT_CUDA_NVRTC !== '1') {
    try {
      binding.loadModule(readFileSync(fatbin));
      return `prebuilt ${fatbin}`;
    } catch (error) {
      fatbinError = `the prebuilt fatbin does not run here (${(error as Error).message})`;
    }
  }
  const source = kernelSource();
  const arch = `sm_${major}${minor}`;
  const hash = createHash('sha256').update(source).update(arch).digest('hex').slice(0, 16);
  const cacheDir =
    process.env.LORAKIT_CUDA_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lorakit', 'cuda');
  const cached = join(cacheDir, `kernels-${hash}-${arch}.cubin`);
  if (existsSync(cached)) {
    binding.loadModule(readFileSync(cached));
    return `NVRTC cache ${cached}`;
  }
  let cubin: Uint8Array;
  try {
    cubin = binding.compile(source, 'lorakit.cu', [
      `--gpu-architecture=${arch}`,
      '--fmad=false',
      '-std=c++17',
      '-default-device',
    ]);
  } catch (error) {
    throw new CudaUnavailableError(
      `${fatbinError}, and compiling the kernels failed: ${(error as Error).message}`,
    );
  }
  binding.loadModule(cubin);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const temporary = `${cached}.${process.pid}.tmp`;
    writeFileSync(temporary, cubin);
    renameSync(temporary, cached);
  } catch {
    // A read-only cache folder only costs a compilation next time.
  }
  return `NVRTC (${arch}), cached at ${cached}`;
}
