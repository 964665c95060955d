/**
 * Registration of the `cpu` backend with the tensor package. Importing the package entry calls
 * `registerCpuBackend()` once; when the addon is missing that prints one warning (why, and that the
 * JavaScript backend stays the default) and registers nothing.
 */
import { listBackends, registerBackend } from '@lorakit/tensor';
import { loadNative } from '../native.js';
import { createCpuBackend } from './cpu-backend.js';

/** Priority of the cpu backend: above the JavaScript backend (0), so it becomes the default. */
export const CPU_BACKEND_PRIORITY = 10;

/**
 * Registers the `cpu` backend (priority 10 unless given) if the native addon loaded. Returns whether a
 * `cpu` backend is registered afterwards; calling it again is harmless.
 */
export function registerCpuBackend(priority = CPU_BACKEND_PRIORITY): boolean {
  if (listBackends().some((b) => b.name === 'cpu')) return true;
  if (!loadNative()) return false;
  registerBackend(createCpuBackend('cpu'), priority);
  return true;
}
