import { listBackends } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { noGpuReason } from '../test/gpu.js';
import {
  CudaUnavailableError,
  createCudaBackend,
  formatBytes,
  kernelSource,
  libraryDirectories,
  registerCudaBackend,
} from './index.js';

describe('registration', () => {
  it.runIf(noGpuReason !== undefined)('registers nothing without a GPU and says what is missing', () => {
    expect(registerCudaBackend()).toBe(false);
    expect(listBackends().map((b) => b.name)).not.toContain('cuda');
    expect(noGpuReason).toMatch(/^(missing |the @lorakit\/cuda-backend addon is not built)/);
    expect(() => createCudaBackend()).toThrow(CudaUnavailableError);
  });

  it.runIf(noGpuReason === undefined)('registers `cuda` above cpu and js when a GPU is usable', () => {
    expect(registerCudaBackend()).toBe(true);
    expect(listBackends()[0]).toEqual({ name: 'cuda', priority: 20 });
  });
});

describe('libraries and kernels', () => {
  it('searches LORAKIT_CUDA_LIBRARY_PATH first', () => {
    const dirs = libraryDirectories({ LORAKIT_CUDA_LIBRARY_PATH: '/tmp', PATH: '' });
    expect(dirs[0]).toBe('/tmp');
  });

  it('inlines the kernel includes for NVRTC, each header once', () => {
    const source = kernelSource();
    expect(source).not.toMatch(/#include/);
    expect(source.match(/struct Arg \{/g)).toHaveLength(1);
    expect(source).toMatch(/extern "C" __global__ void adamw_f32/);
  });

  it('formats byte counts', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(3 * 2 ** 30)).toBe('3.0 GiB');
  });
});
