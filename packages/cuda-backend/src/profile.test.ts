/**
 * The profiler's bookkeeping without a GPU: the backend runs over a recording fake of the native layer
 * whose pooled events read back at 1 ms apart (so every bracketed call lasts exactly 1 ms on the "GPU").
 */
import { type Backend, type Dtype, randn, setDefaultBackend, tidy, type View } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpuSkipLabel, noGpuReason } from '../test/gpu.js';
import { assembleBackend } from './backend/cuda-backend.js';
import { CudaStorage } from './backend/storage.js';
import { Device } from './device.js';
import { CudaBackendError } from './errors.js';
import { timeOnDevice } from './memory.js';
import type { NativeBinding } from './native.js';
import { formatProfile, profile, profileDevice } from './profile.js';

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

function fakeDevice(options: { syncMs?: number } = {}) {
  const names: string[] = [];
  const recorded: number[] = [];
  const timesAsked: number[] = [];
  let launches = 0;
  let next = 4096;
  const binding = {
    getFunction: (name: string) => names.push(name) - 1,
    launch: () => {
      launches++;
    },
    alloc: (bytes: number) => {
      const pointer = next;
      next += Math.ceil(bytes / 512) * 512;
      return pointer;
    },
    free: () => {},
    fill8: () => {},
    fill32: () => {},
    copyDevice: () => {},
    upload: () => {},
    download: () => {},
    synchronize: () => spin(options.syncMs ?? 0),
    gemm: () => {},
    fusedThing: () => 7,
    memoryStats: () => ({ inUse: 0 }),
    profileRecord: (index: number) => recorded.push(index),
    profileTimes: (count: number, out: Float64Array) => {
      timesAsked.push(count);
      for (let i = 0; i < count; i++) out[i] = i;
    },
  } as unknown as NativeBinding;
  const device = new Device(binding, {
    name: 'fake',
    computeCapability: '9.0',
    multiprocessors: 132,
    totalMemory: 2 ** 36,
    l2Bytes: 2 ** 25,
    sharedMemoryPerBlock: 232_448,
    driverVersion: '13.0',
    libraries: { cublasLt: '', cusolver: '', nvrtc: '' },
    kernels: 'fake',
  });
  const backend = assembleBackend(device, 'cuda-fake') as Backend;
  return { device, backend, binding, recorded, timesAsked, launches: () => launches };
}

function view(dtype: Dtype, shape: number[]): View {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { storage: new CudaStorage(1 << 20, 1 << 20), dtype, shape, strides, offset: 0 };
}

describe('profile (fake native layer)', () => {
  it('counts launches per kernel, GEMMs by shape and allocator calls, and times each between two events', () => {
    const { device, backend, binding, recorded, timesAsked, launches } = fakeDevice();
    const p = profileDevice(device, () => {
      device.launch('a', 'kernel_a', 1, 32);
      device.launch('a', 'kernel_a', 1, 32);
      device.launch('b', 'kernel_b', 1, 32);
      backend.matmul(view('bfloat16', [8, 6]), view('bfloat16', [6, 4]), 'bfloat16');
      const pointer = device.alloc(100, 'x');
      device.native.free(pointer);
      expect((device.native as unknown as { fusedThing(): number }).fusedThing()).toBe(7);
      device.native.memoryStats();
      return 42;
    });
    expect(p.result).toBe(42);
    expect(launches()).toBe(3);
    expect(p.kernelLaunches).toBe(3);
    expect(p.gemms).toBe(1);
    // Each bracketed call: events 2i and 2i+1, read back 1 ms apart.
    const bracketed = 3 + 1 + 1 + p.calls.memset.calls;
    expect(recorded).toEqual(Array.from({ length: 2 * bracketed }, (_, i) => i));
    expect(timesAsked).toEqual([2 * bracketed]);
    expect(p.gpuBusyMs).toBe(bracketed);
    expect(p.kernels[0]).toEqual({ name: 'kernel_a', launches: 2, gpuMs: 2 });
    expect(p.kernels.find((k) => k.name.startsWith('gemm'))).toEqual({
      name: 'gemm bf16 8×4×6',
      launches: 1,
      gpuMs: 1,
    });
    expect(p.kernels.find((k) => k.name === 'kernel_b')).toEqual({ name: 'kernel_b', launches: 1, gpuMs: 1 });
    expect(p.kernels.find((k) => k.name === 'native fusedThing')).toEqual({
      name: 'native fusedThing',
      launches: 1,
      gpuMs: 1,
    });
    expect(p.calls.other.calls).toBe(1);
    expect(p.calls.alloc.calls).toBeGreaterThanOrEqual(2); // the product's output, and ours
    expect(p.calls.free.calls).toBe(1);
    expect(p.calls.synchronize.calls).toBe(0); // the synchronizations around fn are not fn's
    expect(p.gapMs).toBe(Math.max(0, p.wallMs - p.gpuBusyMs));
    // Outside the profile, the device calls the addon directly again.
    expect(device.native).toBe(binding);
    device.launch('a', 'kernel_a', 1, 32);
    expect(recorded).toHaveLength(2 * bracketed);
  });

  it('splits host time into JavaScript, driver calls and waits', () => {
    const { device } = fakeDevice({ syncMs: 4 });
    const p = profileDevice(device, () => {
      device.launch('a', 'kernel_a', 1, 32);
      spin(6);
      device.launch('a', 'kernel_a', 1, 32);
      device.synchronize();
    });
    expect(p.hostJsMs).toBeGreaterThanOrEqual(6);
    expect(p.syncMs).toBeGreaterThanOrEqual(8); // fn's synchronize and the final one
    expect(p.calls.synchronize).toMatchObject({ calls: 1 });
    expect(p.hostJsMs + p.driverMs + p.syncMs + p.overheadMs).toBeLessThanOrEqual(p.wallMs + 1e-6);
    expect(p.busyPercent).toBeCloseTo((100 * p.gpuBusyMs) / p.wallMs, 6);
  });

  it('restores the addon when fn throws, and a later profile starts its events from 0', () => {
    const { device, binding, recorded } = fakeDevice();
    expect(() =>
      profileDevice(device, () => {
        device.launch('a', 'kernel_a', 1, 32);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(device.native).toBe(binding);
    recorded.length = 0;
    const p = profileDevice(device, () => device.launch('b', 'kernel_b', 1, 32));
    expect(recorded).toEqual([0, 1]);
    expect(p.kernels).toEqual([{ name: 'kernel_b', launches: 1, gpuMs: 1 }]);
  });

  it('refuses a nested profile and an asynchronous fn', () => {
    const { device, binding } = fakeDevice();
    const nested = () => profileDevice(device, () => profileDevice(device, () => 1));
    expect(nested).toThrow(CudaBackendError);
    expect(nested).toThrow(
      '[cuda profile] a profile is already running: profile() calls cannot nest; profile the outer function only',
    );
    expect(device.native).toBe(binding);
    expect(() => profileDevice(device, async () => 1)).toThrow(
      '[cuda profile] fn must be synchronous, received a function that returned a Promise; profile the synchronous step inside it',
    );
    expect(device.native).toBe(binding);
  });

  it('formats totals, calls and the top kernels, folding the rest into one line', () => {
    const { device } = fakeDevice();
    const p = profileDevice(device, () => {
      for (let i = 0; i < 3; i++) device.launch('a', 'kernel_a', 1, 32);
      device.launch('b', 'kernel_b', 1, 32);
      device.launch('c', 'kernel_c', 1, 32);
    });
    const text = formatProfile(p, { top: 1, title: 'step' });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^step: wall [\d.]+ ms · GPU busy 5\.0 ms \(\d+%\) · gaps [\d.]+ ms · host JS/);
    expect(lines[1]).toMatch(/^calls: 5 launch \([\d.]+ ms\)$/);
    expect(lines[2]).toMatch(/^kernel \(GEMM: M×N×K\)\s+launches\s+GPU ms\s+mean µs\s+% busy$/);
    expect(lines[3]!.split(/\s{2,}/)).toEqual(['kernel_a', '3', '3.00', '1000.0', '60.0']);
    expect(lines[4]!.split(/\s{2,}/)).toEqual(['(2 more)', '2', '2.00', '1000.0', '40.0']);
    expect(lines).toHaveLength(5);
  });
});

describe.skipIf(noGpuReason !== undefined)(`profile on the GPU${gpuSkipLabel}`, () => {
  beforeAll(() => setDefaultBackend('cuda'));
  afterAll(() => setDefaultBackend(undefined));

  it('times a GEMM and elementwise kernels with events, within the wall time, and agrees with timeOnDevice', () => {
    const a = randn([2048, 2048], { dtype: 'bfloat16' });
    const b = randn([2048, 2048], { dtype: 'bfloat16' });
    const step = () => tidy(() => a.matmul(b).mul(2).add(1).sum().dispose());
    step();
    const p = profile(step);
    expect(p.gemms).toBe(1);
    expect(p.kernelLaunches).toBeGreaterThanOrEqual(2);
    const gemm = p.kernels.find((k) => k.name.startsWith('gemm'))!;
    expect(gemm.name).toBe('gemm bf16 2048×2048×2048');
    expect(gemm.gpuMs).toBeGreaterThan(0);
    expect(p.gpuBusyMs).toBeGreaterThan(0);
    expect(p.gpuBusyMs).toBeLessThanOrEqual(p.wallMs);
    expect(p.busyPercent).toBeGreaterThan(0);
    // A profile twice in a row reuses the event pool and measures the same work.
    const again = profile(step);
    expect(again.kernels.map((k) => [k.name, k.launches])).toEqual(
      p.kernels.map((k) => [k.name, k.launches]),
    );
    // The events around one long GEMM measure what events around the whole call measure.
    const big = randn([8192, 8192]);
    tidy(() => big.matmul(big).dispose());
    const whole = timeOnDevice(() => tidy(() => big.matmul(big).dispose()));
    const profiled = profile(() => tidy(() => big.matmul(big).dispose()));
    const long = profiled.kernels.find((k) => k.name.startsWith('gemm f32'))!;
    expect(long.gpuMs).toBeGreaterThan(0.5 * whole);
    expect(long.gpuMs).toBeLessThan(1.5 * whole);
    for (const t of [a, b, big]) t.dispose();
  });
});
