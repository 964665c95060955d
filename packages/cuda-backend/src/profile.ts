/**
 * A profiler for the cuda backend: `profile(fn)` runs `fn` once with every native call routed through a
 * recording wrapper of the addon. Each call that queues GPU work (kernel launches, cuBLASLt GEMMs,
 * cuSOLVER, memsets and copies) is bracketed by two CUDA events from a reused pool, so its GPU time is
 * the time between them; allocator calls and synchronizations are counted and timed on the host. The
 * JavaScript time is the host time spent outside native calls. Outside `profile` nothing is recorded: the
 * device calls the addon directly.
 */
import { type Device, getDevice } from './device.js';
import { CudaBackendError } from './errors.js';
import type { NativeBinding } from './native.js';

/** The kinds of native calls a profile counts. */
export const PROFILE_CALL_KINDS = [
  'launch',
  'gemm',
  'solver',
  'memset',
  'copy',
  'upload',
  'download',
  'alloc',
  'free',
  'synchronize',
  'other',
] as const;
export type ProfileCallKind = (typeof PROFILE_CALL_KINDS)[number];

/** The GPU time of one kernel name (or one GEMM shape, or one copy kind) over the profiled run. */
export interface KernelTime {
  /** The kernel's name; GEMMs as `gemm <dtype> M×N×K` (row-major, `×batch` when batched). */
  readonly name: string;
  readonly launches: number;
  /** Milliseconds between the events around its launches, summed. */
  readonly gpuMs: number;
}

/** How often a kind of native call ran and the host milliseconds spent inside it. */
export interface CallTime {
  readonly calls: number;
  readonly hostMs: number;
}

/** What {@link profile} measured. */
export interface CudaProfile {
  /** From the synchronization before `fn` to the one after it. */
  readonly wallMs: number;
  /** GPU time of all recorded work (the work is serialized on one stream, so the sum does not overlap). */
  readonly gpuBusyMs: number;
  /** `wallMs − gpuBusyMs`: time the GPU had nothing of ours to run. */
  readonly gapMs: number;
  /** `gpuBusyMs / wallMs` in percent. */
  readonly busyPercent: number;
  /** Host time outside native calls: JavaScript (dispatch, autograd, shape logic). */
  readonly hostJsMs: number;
  /** Host time inside native calls other than waits (launch, gemm, alloc, free, copies). */
  readonly driverMs: number;
  /** Host time waiting for the GPU (synchronize, download, and the final synchronization). */
  readonly syncMs: number;
  /** Host time the profiler itself added (recording events). */
  readonly overheadMs: number;
  /** Kernel launches (not counting GEMMs, solver calls, memsets and copies). */
  readonly kernelLaunches: number;
  readonly gemms: number;
  /** GPU time per kernel name, largest first. */
  readonly kernels: readonly KernelTime[];
  readonly calls: Readonly<Record<ProfileCallKind, CallTime>>;
}

/** Native calls that queue no GPU work (or are the profiler's own): passed through unrecorded. */
const UNRECORDED = new Set([
  'initialize',
  'loadModule',
  'compile',
  'getFunction',
  'memoryStats',
  'setMemoryLimit',
  'emptyCache',
  'resetPeak',
  'recordEvent',
  'elapsed',
  'profileRecord',
  'profileTimes',
  'setGemmTuning',
]);

const GEMM_DTYPES: Readonly<Record<number, string>> = { 0: 'f32', 1: 'f64', 2: 'f16', 14: 'bf16' };

/**
 * Runs `fn` once on the cuda device and profiles it: kernel launches and GPU time per kernel name (CUDA
 * events around each launch), cuBLASLt GEMMs by shape, allocator calls, GPU busy time against wall time,
 * and host JavaScript time between native calls. `fn` must be synchronous. Profiling adds a few
 * microseconds of host time per launch (reported as `overheadMs`); print the result with
 * {@link formatProfile}.
 */
export function profile<T>(fn: () => T): CudaProfile & { readonly result: T } {
  return profileDevice(getDevice(), fn);
}

/** {@link profile} on a given device (tests pass one over a fake native layer). */
export function profileDevice<T>(device: Device, fn: () => T): CudaProfile & { readonly result: T } {
  if (device.native !== device.binding)
    throw new CudaBackendError(
      '[cuda profile] a profile is already running: profile() calls cannot nest; profile the outer function only',
    );
  const real = device.binding;
  const now = () => performance.now();
  const names = new Map<number, string>();
  const labels: string[] = [];
  const calls = Object.fromEntries(PROFILE_CALL_KINDS.map((k) => [k, { calls: 0, hostMs: 0 }])) as Record<
    ProfileCallKind,
    { calls: number; hostMs: number }
  >;
  let events = 0;
  let hostJs = 0;
  let overhead = 0;
  let last = 0;

  const gpu = <R>(kind: ProfileCallKind, label: string, body: () => R): R => {
    const a = now();
    hostJs += a - last;
    real.profileRecord(events++);
    const b = now();
    try {
      return body();
    } finally {
      const c = now();
      real.profileRecord(events++);
      const d = now();
      labels.push(label);
      overhead += b - a + (d - c);
      calls[kind].calls++;
      calls[kind].hostMs += c - b;
      last = d;
    }
  };
  const host = <R>(kind: ProfileCallKind, body: () => R): R => {
    const a = now();
    hostJs += a - last;
    try {
      return body();
    } finally {
      const d = now();
      calls[kind].calls++;
      calls[kind].hostMs += d - a;
      last = d;
    }
  };
  const kernel = (handle: number) => {
    let name = names.get(handle);
    if (name === undefined) {
      name = device.kernelName(handle);
      names.set(handle, name);
    }
    return name;
  };
  const gemmLabel = (p: Float64Array) =>
    `gemm ${GEMM_DTYPES[p[0]!] ?? `type ${p[0]}`} ${p[5]}×${p[4]}×${p[6]}${p[13]! > 1 ? ` ×${p[13]}` : ''}`;

  const wrapper: NativeBinding = Object.create(real);
  // Native calls added later (a cuDNN call, say) are bracketed as GPU work under their own name.
  for (const key of Object.keys(real)) {
    const method = (real as unknown as Record<string, unknown>)[key];
    if (typeof method !== 'function' || UNRECORDED.has(key)) continue;
    (wrapper as unknown as Record<string, unknown>)[key] = (...args: unknown[]) =>
      gpu('other', `native ${key}`, () => method.apply(real, args));
  }
  Object.assign(wrapper, {
    launch: (
      fn: number,
      gx: number,
      gy: number,
      gz: number,
      block: number,
      shared: number,
      params: ArrayBuffer,
    ) => gpu('launch', kernel(fn), () => real.launch(fn, gx, gy, gz, block, shared, params)),
    gemm: (p: Float64Array) => gpu('gemm', gemmLabel(p), () => real.gemm(p)),
    fill8: (pointer: number, value: number, bytes: number) =>
      gpu('memset', 'memset', () => real.fill8(pointer, value, bytes)),
    fill32: (pointer: number, value: number, count: number) =>
      gpu('memset', 'memset', () => real.fill32(pointer, value, count)),
    copyDevice: (dst: number, src: number, bytes: number) =>
      gpu('copy', 'memcpy device→device', () => real.copyDevice(dst, src, bytes)),
    upload: (pointer: number, data: ArrayBufferView) =>
      gpu('upload', 'memcpy host→device', () => real.upload(pointer, data)),
    download: (pointer: number, into: ArrayBufferView) =>
      gpu('download', 'memcpy device→host', () => real.download(pointer, into)),
    svd: (...args: Parameters<NativeBinding['svd']>) =>
      gpu('solver', 'cusolver svd', () => real.svd(...args)),
    qr: (...args: Parameters<NativeBinding['qr']>) => gpu('solver', 'cusolver qr', () => real.qr(...args)),
    orgqr: (...args: Parameters<NativeBinding['orgqr']>) =>
      gpu('solver', 'cusolver orgqr', () => real.orgqr(...args)),
    eigh: (...args: Parameters<NativeBinding['eigh']>) =>
      gpu('solver', 'cusolver eigh', () => real.eigh(...args)),
    alloc: (bytes: number) => host('alloc', () => real.alloc(bytes)),
    free: (pointer: number) => host('free', () => real.free(pointer)),
    synchronize: () => host('synchronize', () => real.synchronize()),
  } satisfies Partial<NativeBinding>);

  device.synchronize('profile');
  const start = now();
  last = start;
  let result: T;
  device.interpose(wrapper);
  try {
    result = fn();
  } finally {
    device.interpose(undefined);
  }
  if (result instanceof Promise)
    throw new CudaBackendError(
      '[cuda profile] fn must be synchronous, received a function that returned a Promise; profile the synchronous step inside it',
    );
  const finished = now();
  hostJs += finished - last;
  device.synchronize('profile');
  const end = now();
  const times = new Float64Array(events);
  if (events > 0) real.profileTimes(events, times);

  const perKernel = new Map<string, { launches: number; gpuMs: number }>();
  let busy = 0;
  for (let i = 0; i < labels.length; i++) {
    const ms = Math.max(0, times[2 * i + 1]! - times[2 * i]!);
    busy += ms;
    const entry = perKernel.get(labels[i]!) ?? { launches: 0, gpuMs: 0 };
    entry.launches++;
    entry.gpuMs += ms;
    perKernel.set(labels[i]!, entry);
  }
  const wallMs = end - start;
  const waits = calls.synchronize.hostMs + calls.download.hostMs;
  const inside = PROFILE_CALL_KINDS.reduce((sum, k) => sum + calls[k].hostMs, 0);
  return {
    result,
    wallMs,
    gpuBusyMs: busy,
    gapMs: Math.max(0, wallMs - busy),
    busyPercent: wallMs > 0 ? (100 * busy) / wallMs : 0,
    hostJsMs: hostJs,
    driverMs: inside - waits,
    syncMs: waits + (end - finished),
    overheadMs: overhead,
    kernelLaunches: calls.launch.calls,
    gemms: calls.gemm.calls,
    kernels: [...perKernel]
      .map(([name, k]) => ({ name, launches: k.launches, gpuMs: k.gpuMs }))
      .sort((a, b) => b.gpuMs - a.gpuMs || a.name.localeCompare(b.name)),
    calls,
  };
}

/** A compact table of a profile: totals, calls per kind, and the `top` kernels by GPU time. */
export function formatProfile(p: CudaProfile, options: { top?: number; title?: string } = {}): string {
  const top = options.top ?? 12;
  const ms = (x: number) => x.toFixed(1);
  const lines = [
    `${options.title ? `${options.title}: ` : ''}wall ${ms(p.wallMs)} ms · GPU busy ${ms(p.gpuBusyMs)} ms (${p.busyPercent.toFixed(0)}%) · gaps ${ms(p.gapMs)} ms · host JS ${ms(p.hostJsMs)} ms · driver calls ${ms(p.driverMs)} ms · waiting ${ms(p.syncMs)} ms · profiler overhead ${ms(p.overheadMs)} ms`,
    `calls: ${PROFILE_CALL_KINDS.filter((k) => p.calls[k].calls > 0)
      .map((k) => `${p.calls[k].calls} ${k} (${ms(p.calls[k].hostMs)} ms)`)
      .join(', ')}`,
  ];
  const rows = p.kernels
    .slice(0, top)
    .map((k) => [
      k.name,
      String(k.launches),
      k.gpuMs.toFixed(2),
      ((1000 * k.gpuMs) / k.launches).toFixed(1),
      p.gpuBusyMs > 0 ? ((100 * k.gpuMs) / p.gpuBusyMs).toFixed(1) : '0.0',
    ]);
  const rest = p.kernels.slice(top);
  if (rest.length > 0) {
    const restMs = rest.reduce((s, k) => s + k.gpuMs, 0);
    const restLaunches = rest.reduce((s, k) => s + k.launches, 0);
    rows.push([
      `(${rest.length} more)`,
      String(restLaunches),
      restMs.toFixed(2),
      ((1000 * restMs) / restLaunches).toFixed(1),
      p.gpuBusyMs > 0 ? ((100 * restMs) / p.gpuBusyMs).toFixed(1) : '0.0',
    ]);
  }
  const header = ['kernel (GEMM: M×N×K)', 'launches', 'GPU ms', 'mean µs', '% busy'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (r: string[]) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  lines.push(format(header), ...rows.map(format));
  return lines.join('\n');
}
