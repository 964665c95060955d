import { LorakitError } from '@lorakit/tensor';

/** Errors of @lorakit/cuda-backend; subclasses let callers catch by kind. */
export class CudaBackendError extends LorakitError {}

/** The backend cannot run here: the addon is not built, or a CUDA library, the driver or a GPU is missing. */
export class CudaUnavailableError extends CudaBackendError {}

/**
 * A device allocation failed even after the cached blocks were returned to the driver, or it would pass
 * the limit set with `setMemoryLimit`. The message names the request, the memory in use and the free
 * memory; the same numbers are properties.
 */
export class CudaOutOfMemoryError extends CudaBackendError {
  constructor(
    message: string,
    readonly requestedBytes: number,
    readonly inUseBytes: number,
    readonly freeBytes: number,
    readonly limitBytes: number,
  ) {
    super(message);
  }
}

/** A CUDA call or a kernel failed; for asynchronous failures the message names the ops last launched. */
export class CudaKernelError extends CudaBackendError {}

/** Bytes for people: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}
