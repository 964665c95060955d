export { type CudaBackend, createCudaBackend } from './backend/cuda-backend.js';
export { adamwCoefficients } from './backend/fused.js';
export { setTf32, tf32Enabled } from './backend/matmul.js';
export { CUDA_BACKEND_PRIORITY, registerCudaBackend } from './backend/register.js';

import { cudaUnavailableReason } from './device.js';

export { cudaUnavailableReason, type DeviceInfo, kernelSource } from './device.js';
export {
  CudaBackendError,
  CudaKernelError,
  CudaOutOfMemoryError,
  CudaUnavailableError,
  formatBytes,
} from './errors.js';
export { libraryDirectories } from './libraries.js';
export {
  type CudaMemoryStats,
  emptyCache,
  memoryStats,
  resetPeakMemory,
  setMemoryLimit,
  synchronize,
  timeOnDevice,
} from './memory.js';
export { native, nativeLoadError } from './native.js';
export {
  type CallTime,
  type CudaProfile,
  formatProfile,
  type KernelTime,
  PROFILE_CALL_KINDS,
  type ProfileCallKind,
  profile,
} from './profile.js';

import { registerCudaBackend } from './backend/register.js';

// Importing the package registers `cuda` when a GPU and the libraries are there (one line if not).
registerCudaBackend();

/** Why `cuda` is not registered (no GPU, a missing library or driver, the addon not built), if it is not. */
export const unavailableReason: string | undefined = cudaUnavailableReason();
