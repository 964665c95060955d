export { CpuBackendError, GemmArgumentError, NativeUnavailableError } from './errors.js';
export type { NativeBinding } from './native.js';
export { loadNative, nativeAvailable, nativeLoadError } from './native.js';
export {
  type CpuFeatures,
  type CpuKernel,
  type CpuKernelChoice,
  cpuFeatures,
  getNumThreads,
  maxThreads,
  setKernel,
  setNumThreads,
} from './runtime.js';
export { type SgemmOptions, type SgemmStridedBatchedOptions, sgemm, sgemmStridedBatched } from './sgemm.js';
