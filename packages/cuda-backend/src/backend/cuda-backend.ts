/**
 * The `cuda` tensor backend: every kernel of the contract, and the optional fused ones, on one NVIDIA GPU.
 * Storages live in device memory from the caching allocator; kernels are queued on one stream and only
 * `toHost` waits for them.
 */
import type { Backend } from '@lorakit/tensor';
import { type Device, type DeviceInfo, getDevice } from '../device.js';
import { attentionKernels } from './attention.js';
import { convolutionKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { fusedKernels } from './fused.js';
import { indexingKernels } from './indexing.js';
import { linalgKernels } from './linalg.js';
import { loraKernels } from './lora.js';
import { matmulKernels } from './matmul.js';
import { reductionKernels } from './reduce.js';
import { type CudaStorage, Memory } from './storage.js';

/** The backend object, with a description of the device it runs on. */
export interface CudaBackend extends Backend<CudaStorage> {
  readonly device: DeviceInfo;
  /** One line: the GPU, its memory and where the kernels came from. */
  describe(): string;
}

/**
 * Creates the CUDA backend on the device LORAKIT_CUDA_DEVICE (default 0). Throws CudaUnavailableError,
 * naming what is missing, when the addon, the driver, a library or a GPU is not there.
 */
export function createCudaBackend(name = 'cuda'): CudaBackend {
  return assembleBackend(getDevice(), name);
}

/** The backend over a given device (tests pass one whose native layer is a recording fake). */
export function assembleBackend(device: Device, name: string): CudaBackend {
  const memory = new Memory(device);
  const context = { device, memory };
  const elementwise = elementwiseKernels(context);
  const { swiglu, ...required } = elementwise;
  const info = device.info;
  return {
    name,
    device: info,
    describe: () =>
      `${info.name} (compute capability ${info.computeCapability}, ${(info.totalMemory / 2 ** 30).toFixed(1)} GiB, ${info.multiprocessors} SMs, driver ${info.driverVersion}); kernels: ${info.kernels}`,
    dispose: (storage) => memory.dispose(storage),
    ...required,
    ...reductionKernels(context),
    matmul: matmulKernels(context).matmul,
    ...indexingKernels(context),
    ...convolutionKernels(context),
    ...linalgKernels(context),
    ...fusedKernels(context),
    ...attentionKernels(context),
    swiglu,
    loraExpand: loraKernels(context).loraExpand,
    fusedHalfPrecision: true,
  };
}
