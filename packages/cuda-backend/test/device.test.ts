/**
 * The device side of the backend on a GPU: the caching allocator (steady state without cuMemAlloc,
 * dispose returning memory, the limit and its error), and an asynchronous kernel failure surfacing at the
 * next synchronization with the ops that were launched (in a child process, since a device fault ends
 * the CUDA context).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Backend, ones, setDefaultBackend, tidy } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CudaOutOfMemoryError, createCudaBackend, memoryStats, setMemoryLimit } from '../src/index.js';
import { gpuSkipLabel, noGpuReason } from './gpu.js';

const gpu = noGpuReason === undefined;

describe.skipIf(!gpu)(`cuda device: memory and errors${gpuSkipLabel}`, () => {
  beforeAll(() => setDefaultBackend('cuda'));
  afterAll(() => {
    setMemoryLimit(0);
    setDefaultBackend(undefined);
  });

  it('a repeated step reuses cached blocks: no cuMemAlloc after the first run', () => {
    const step = () =>
      tidy(() => {
        const x = ones([256, 1024]);
        return x.mul(2).add(1).sum().dispose();
      });
    step();
    const before = memoryStats().deviceAllocations;
    for (let i = 0; i < 20; i++) step();
    expect(memoryStats().deviceAllocations).toBe(before);
    expect(memoryStats().reuses).toBeGreaterThan(0);
  });

  it('dispose gives the block back at once', () => {
    const x = ones([1024, 1024]);
    const inUse = memoryStats().inUse;
    x.dispose();
    expect(memoryStats().inUse).toBe(inUse - 4 * 1024 * 1024);
  });

  it('a request past the limit raises CudaOutOfMemoryError naming the sizes', () => {
    const backend = createCudaBackend('cuda-oom') as Backend;
    setMemoryLimit(memoryStats().inUse + 8 * 2 ** 20);
    try {
      let error: unknown;
      try {
        backend.full('float32', 64 * 2 ** 20, 0);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(CudaOutOfMemoryError);
      expect((error as Error).message).toMatch(
        /^\[cuda full\] out of device memory: requested 256 MiB, [\d.]+ (B|KiB|MiB|GiB) in use by lorakit, [\d.]+ GiB free on .+ \(it would pass the memory limit of [\d.]+ MiB set with setMemoryLimit\)/,
      );
      expect((error as CudaOutOfMemoryError).requestedBytes).toBe(256 * 2 ** 20);
    } finally {
      setMemoryLimit(0);
    }
  });

  it('a faulting kernel surfaces at the next synchronization, naming the ops launched', () => {
    const script = join(tmpdir(), `lorakit-cuda-fault-${process.pid}.ts`);
    writeFileSync(
      script,
      `
import { getDevice } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'device.ts'))};
import { synchronize } from ${JSON.stringify(join(import.meta.dirname, '..', 'src', 'index.ts'))};
const device = getDevice();
// fill_f64 into an address no allocation has: the kernel faults asynchronously.
device.params.begin().int(16).int(0).int(1 << 20).real(1).real(0);
device.launch('planted-fault', 'fill_f64', 64, 256);
try { synchronize(); console.log('no error'); } catch (error) { console.log(error.constructor.name + ': ' + error.message); }
`,
    );
    const result = spawnSync(process.execPath, ['--conditions=@lorakit/source', '--import', 'tsx', script], {
      encoding: 'utf8',
      cwd: join(import.meta.dirname, '..'),
      env: { ...process.env, LORAKIT_CUDA_QUIET: '1' },
    });
    expect(result.stdout).toMatch(
      /CudaKernelError: \[cuda synchronize\] an asynchronous CUDA error surfaced here: cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS .*launched by one of the last ops \(newest last\): planted-fault; run with LORAKIT_CUDA_SYNC=1/,
    );
  });
});
