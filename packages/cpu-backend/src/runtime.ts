/**
 * Process-wide settings of the native layer: the thread pool size and the micro-kernel set.
 *
 * Defaults: all cores (std::thread::hardware_concurrency), or LORAKIT_NUM_THREADS; the widest kernel set
 * the CPU and OS support (AVX-512, then AVX2/FMA, then portable), unless LORAKIT_CPU_KERNEL names one
 * (`avx512`, `avx2`, `portable`).
 */
import { CpuBackendError } from './errors.js';
import { requireNative } from './native.js';

/** The micro-kernel sets the addon can run. */
export type CpuKernel = 'avx512' | 'avx2-fma' | 'portable';

const kernelChoices = ['auto', 'portable', 'avx2-fma', 'avx512'] as const;
export type CpuKernelChoice = (typeof kernelChoices)[number];

/** Upper bound for setNumThreads; far above any CPU this runs on, low enough to catch unit mistakes. */
export const maxThreads = 1024;

export interface CpuFeatures {
  /** The micro-kernel set in use now. */
  kernel: CpuKernel;
  /** Whether this CPU, OS and build can run the AVX2/FMA kernels. */
  avx2Fma: boolean;
  /** Whether this CPU, OS and build can run the AVX-512 kernels (F, DQ, BW, VL; zmm state enabled). */
  avx512: boolean;
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
    avx512: native.avx512Usable(),
    threads: native.getNumThreads(),
  };
}

/**
 * Chooses the micro-kernel set: 'auto' (the widest available, honouring LORAKIT_CPU_KERNEL), 'portable',
 * 'avx2-fma' or 'avx512' (these two throw where the CPU, OS or build lacks them). For tests and
 * comparisons.
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
      `[setKernel] kernel "${kernel}" is not available on this CPU or build; available: ${['auto', ...availableKernels()].join(', ')}`,
    );
  }
}

/** The kernel sets this CPU, OS and build can run, widest first; 'portable' is always there. */
export function availableKernels(): CpuKernel[] {
  const native = requireNative('availableKernels');
  const kernels: CpuKernel[] = [];
  if (native.avx512Usable()) kernels.push('avx512');
  if (native.avx2FmaUsable()) kernels.push('avx2-fma');
  kernels.push('portable');
  return kernels;
}
