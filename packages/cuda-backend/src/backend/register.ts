/**
 * Registration of the `cuda` backend with the tensor package. Importing the package entry calls
 * `registerCudaBackend()` once; when the GPU, the driver, a library or the addon is missing that prints
 * one line naming what is missing and how to get it, and registers nothing.
 */
import { listBackends, registerBackend } from '@lorakit/tensor';
import { cudaUnavailableReason } from '../device.js';
import { createCudaBackend } from './cuda-backend.js';

/** Priority of the cuda backend: above cpu (10) and js (0), so `auto` picks it first. */
export const CUDA_BACKEND_PRIORITY = 20;

let warned = false;

/**
 * Registers the `cuda` backend (priority 20 unless given) if a GPU and the CUDA libraries are usable.
 * Returns whether a `cuda` backend is registered afterwards; calling it again is harmless.
 * LORAKIT_CUDA_QUIET=1 silences the one-line notice.
 */
export function registerCudaBackend(priority = CUDA_BACKEND_PRIORITY): boolean {
  if (listBackends().some((b) => b.name === 'cuda')) return true;
  const reason = cudaUnavailableReason();
  if (reason !== undefined) {
    if (!warned && process.env.LORAKIT_CUDA_QUIET !== '1') {
      warned = true;
      console.warn(`@lorakit/cuda-backend: not registered: ${reason}`);
    }
    return false;
  }
  registerBackend(createCudaBackend('cuda'), priority);
  return true;
}
