/**
 * Process-wide settings of the native layer: the thread pool size and the micro-kernel set.
 *
 * Defaults: all cores (std::thread::hardware_concurrency), or LORAKIT_NUM_THREADS; the AVX2/FMA kernels
 * when the CPU has them, unless LORAKIT_CPU_KERNEL=portable.
 */
import { CpuBackendError } from './errors.js';
import { requireNative } from './native.js';

/** The micro-kernel sets the addon can run. */
export type CpuKernel = 'avx2-fma' | 'portable';

const kernelChoices = ['auto', 'portable', 'avx2-fma'] as const;
export type CpuKernelChoice = (typeof kernelChoices)[number];

/** Upper bound for setNumThreads; far above any CPU this runs on, low enough to catch unit mistakes. */
export const maxThreads = 1024;

export interface CpuFeatures {
  /** The micro-kernel set in use now. */
  kernel: CpuKernel;
  /** Whether this CPU and build can run the AVX2/FMA kernels. */
  avx2Fma: boolean;
  /** Threads a GEMM may use. */
  threads: number;
}

export function getNumThreads(): number {
  return requireNative('getNumThreads').getNumThreads();
}

/** Threads later GEMMs may use; workers start on first use. */
export function setNumThreads(n: number): void {
  const native = requireNative('setNumThreads');
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > maxThreads) {
    throw new CpuBackendError(
      `[setNumThreads] n must be an integer from 1 to ${maxThreads}, received ${typeof n === 'number' ? n : typeof n}`,
    );
  }
  native.setNumThreads(n);
}

export function cpuFeatures(): CpuFeatures {
  const native = requireNative('cpuFeatures');
  return {
    kernel: native.kernelName() as CpuKernel,
    avx2Fma: native.avx2FmaUsable(),
    threads: native.getNumThreads(),
  };
}

/**
 * Chooses the micro-kernel set: 'auto' (AVX2/FMA when available, honouring LORAKIT_CPU_KERNEL),
 * 'portable', or 'avx2-fma' (throws where the CPU or build lacks it). For tests and comparisons.
 */
export function setKernel(kernel: CpuKernelChoice): void {
  const native = requireNative('setKernel');
  if (!(kernelChoices as readonly unknown[]).includes(kernel)) {
    throw new CpuBackendError(
      `[setKernel] unknown kernel ${JSON.stringify(kernel)}; valid kernels: ${kernelChoices.join(', ')}`,
    );
  }
  if (!native.setKernel(kernel)) {
    throw new CpuBackendError(
      `[setKernel] kernel "${kernel}" is not available on this CPU or build; available: auto, portable`,
    );
  }
}
