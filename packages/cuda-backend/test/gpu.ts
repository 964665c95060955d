/** Whether the tests that need a GPU can run here, and why not. */
import { cudaUnavailableReason } from '../src/index.js';

export const noGpuReason = cudaUnavailableReason();
export const gpuSkipLabel =
  noGpuReason === undefined ? '' : ` [skipped: no usable GPU — ${noGpuReason.slice(0, 160)}]`;
