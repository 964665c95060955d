export {
  type MemoryPoolStats,
  memoryPoolStats,
  releasePooledMemory,
  setMemoryPoolLimit,
} from './backend/allocator.js';
export { createCpuBackend } from './backend/cpu-backend.js';
export { CPU_BACKEND_PRIORITY, registerCpuBackend } from './backend/register.js';
export { CpuBackendError, GemmArgumentError, NativeUnavailableError } from './errors.js';
export type { NativeBinding } from './native.js';
export { loadNative, nativeAvailable, nativeLoadError } from './native.js';
export {
  availableKernels,
  type CpuFeatures,
  type CpuKernel,
  type CpuKernelChoice,
  cpuFeatures,
  getNumThreads,
  maxThreads,
  setKernel,
  setNumThreads,
} from './runtime.js';
export {
  type DgemmOptions,
  type DgemmStridedBatchedOptions,
  dgemm,
  dgemmStridedBatched,
  type GemmOptions,
  type GemmStridedBatchedOptions,
  type SgemmOptions,
  type SgemmStridedBatchedOptions,
  sgemm,
  sgemmStridedBatched,
} from './sgemm.js';

import { registerCpuBackend } from './backend/register.js';

// Importing the package makes `cpu` the default backend when the addon is there (one warning if not).
registerCpuBackend();
