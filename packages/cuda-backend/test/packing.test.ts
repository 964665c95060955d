/**
 * Runs without a GPU: every kernel launch of the backend, over a recording fake of the native layer,
 * must write exactly as many 8-byte parameter slots as the kernel's struct in kernels/*.cuh declares
 * (a mismatch would make the kernel read garbage). Every kernel in the source must be launched by some
 * backend entry point.
 */
import type { Backend, Dtype, View } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { assembleBackend } from '../src/backend/cuda-backend.js';
import { OP_CODES } from '../src/backend/elementwise.js';
import { CudaStorage } from '../src/backend/storage.js';
import { Device } from '../src/device.js';
import { kernelSource } from '../src/index.js';
import type { NativeBinding } from '../src/native.js';

const CONSTANTS: Record<string, number> = { MAXD: 8, MAXS: 3, ADAMW_MULTI: 48 };
const COMPOSITE: Record<string, number> = { Arg: 4 + 8, Shape: 2 + 8 };

/** Slots of each parameter struct and the struct each kernel takes, parsed from the CUDA source. */
function parseKernels(source: string): { structs: Map<string, number>; kernels: Map<string, string> } {
  const clean = source.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
  const structs = new Map<string, number>();
  for (const match of clean.matchAll(/struct (\w+) \{([^}]*)\};/g)) {
    let slots = 0;
    for (const field of match[2]!.split(';')) {
      const declaration = field.trim();
      if (!declaration) continue;
      const [, type, names] = declaration.match(/^(?:const )?([\w]+)\s*\**\s*(.*)$/s) ?? [];
      const per = COMPOSITE[type!] ?? 1;
      for (const name of names!.split(',')) {
        const size = name.match(/\[([^\]]+)\]/)?.[1];
        const count = size
          ? Number(Function(...Object.keys(CONSTANTS), `return ${size}`)(...Object.values(CONSTANTS)))
          : 1;
        slots += per * count;
      }
    }
    structs.set(match[1]!, slots);
  }
  const kernels = new Map<string, string>();
  for (const match of clean.matchAll(/extern "C" __global__ void (\w+)\(const (\w+) p\)/g))
    kernels.set(match[1]!, match[2]!);
  return { structs, kernels };
}

function fakeDevice() {
  const names: string[] = [];
  const launches: { kernel: string; slots: number }[] = [];
  let next = 4096;
  let device: Device;
  const binding = {
    getFunction: (name: string) => names.push(name) - 1,
    launch: (fn: number) => launches.push({ kernel: names[fn]!, slots: device.params.slots }),
    alloc: (bytes: number) => {
      const pointer = next;
      next += Math.ceil(bytes / 512) * 512;
      return pointer;
    },
    free: () => {},
    fill8: () => {},
    copyDevice: () => {},
    upload: () => {},
    download: () => {},
    synchronize: () => {},
    gemm: () => {},
    svd: () => {},
    qr: () => {},
    orgqr: () => {},
    eigh: () => {},
  } as unknown as NativeBinding;
  device = new Device(binding, {
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
  return { backend: assembleBackend(device, 'cuda-fake') as Backend, launches };
}

function view(dtype: Dtype, shape: number[], strides?: number[], offset = 0): View {
  const rowMajor = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { storage: new CudaStorage(1 << 20, 1 << 20), dtype, shape, strides: strides ?? rowMajor, offset };
}

describe('kernel parameter packing (no GPU needed)', () => {
  it('every launch writes the slots its kernel struct declares, and every kernel is launched', () => {
    const { structs, kernels } = parseKernels(kernelSource());
    expect(structs.get('Arg')).toBe(12);
    const { backend: b, launches } = fakeDevice();
    const f32 = view('float32', [4, 6]);
    const t = view('float32', [6, 4], [1, 6]);
    const i64 = view('int64', [4, 6]);
    b.unary('exp', f32, 'float32');
    b.unary('exp', t, 'float32');
    b.unary('neg', view('float64', [4, 6]), 'float64');
    b.binary('add', f32, f32, 'float32');
    b.binary('mul', f32, t, 'float32');
    b.binary('add', view('int64', [4, 6]), i64, 'int64');
    b.where(view('bool', [4, 6]), f32, t, 'float32');
    b.assign(f32, view('float64', [4, 6]));
    for (const dtype of ['bool', 'float16', 'float32', 'float64'] as const)
      b.assign(view(dtype, [4, 6]), view(dtype, [6, 4], [1, 6]));
    b.copy(t, 'bfloat16');
    b.full('float32', 10, 2);
    b.arange('int64', 0, 1, 10);
    b.random('float32', 10, { kind: 'normal', mean: 0, std: 1 }, [1, 2], 0);
    b.reduce('sum', f32, [1], 'float32');
    b.argReduce('argmax', f32, 0);
    b.softmax(f32, 1, true);
    b.matmul(f32, view('float32', [6, 3]), 'float32');
    b.matmul(view('int32', [4, 6]), view('int32', [6, 3]), 'int32');
    // Mixed 16-bit · float32 with a narrow side: rows kernels (r ≤ 16 and ≤ 64), column kernels + chunk sum.
    b.matmul(view('bfloat16', [300, 200]), view('float32', [200, 16], [1, 200]), 'float32');
    b.matmul(view('bfloat16', [300, 200]), view('float32', [200, 40], [1, 200]), 'float32');
    b.matmul(view('bfloat16', [150, 1000], [1, 150]), view('float32', [1000, 16]), 'float32');
    b.matmul(view('float32', [40, 1000], [1, 40]), view('bfloat16', [1000, 150]), 'float32');
    for (const r of [16, 40])
      b.loraExpand!(
        view('bfloat16', [70, 150]),
        view('float32', [70, r]),
        view('float32', [r, 150]),
        2,
        true,
      );
    b.gather(f32, 0, i64);
    b.indexSelect(f32, 1, view('int64', [3]));
    b.scatterAdd([4, 6], 'bfloat16', 0, i64, f32);
    b.indexAdd([4, 6], 'float32', 0, view('int64', [4]), f32);
    b.scatterAddInPlace!(f32, 0, i64, f32);
    b.sort(f32, 1, false);
    b.sort(view('float32', [2, 40_000]), 1, true);
    const geometry = {
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1],
      dilation: [1, 1],
      outSpatial: [5, 5],
    };
    b.im2col(view('float32', [1, 2, 5, 5]), geometry);
    b.col2im(view('float32', [1, 18, 25]), geometry, [1, 2, 5, 5]);
    b.svd(f32, false);
    b.svd(t, true);
    b.qr(f32);
    b.eigh(view('float32', [4, 4]));
    b.rmsNorm!(f32, view('float32', [6]), 1e-6);
    b.layerNorm!(f32, null, view('float32', [6]), 1e-5);
    b.rmsNormBackward!(f32, t, view('float32', [6]), view('float32', [4]));
    b.loraLinear!(
      f32,
      view('float32', [5, 6]),
      view('float32', [5]),
      view('float32', [2, 6]),
      view('float32', [5, 2]),
      2,
    );
    b.rotary!(
      view('float32', [2, 3, 8]),
      view('float32', [2, 3, 8], [0, 8, 1]),
      view('float32', [2, 3, 8], [0, 8, 1]),
      true,
    );
    b.swiglu!(f32, t);
    b.swigluBackward!(f32, f32, t, [true, true]);
    b.attentionSoftmax!(
      view('float32', [1, 2, 3, 5]),
      0.5,
      view('float32', [1, 2, 3, 5], [0, 0, 5, 1]),
      true,
    );
    b.attentionSoftmaxBackward!(view('float32', [1, 2, 3, 5]), view('float32', [1, 2, 3, 5]), 0.5);
    b.softmaxCrossEntropyBackward!(f32, view('float32', [4]), view('int64', [4, 1]));
    b.adamwStep!(f32, f32, f32, f32, f32, {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      step: 1,
    });
    b.adamwStep!(
      view('float64', [3]),
      view('float64', [3]),
      view('float64', [3]),
      view('float64', [3]),
      null,
      {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weightDecay: 0.1,
        step: 2,
      },
    );
    const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 2 };
    for (const dtype of ['float32', 'float64'] as const) {
      // 50 parameters: a full launch of 48 and one of 2.
      const items = Array.from({ length: 50 }, () => {
        const t = view(dtype, [5]);
        return { param: t, grad: t, expAvg: t, expAvgSq: t, maxExpAvgSq: t };
      });
      b.adamwStepMulti!(items, adam);
    }
    const f32Heads = view('float32', [1, 2, 8, 64]);
    expect(
      b.flashAttention!(f32Heads, f32Heads, f32Heads, null, { scale: 1, causal: false, window: null }),
    ).toBeNull();
    const smallHeads = view('bfloat16', [1, 2, 8, 32]);
    expect(
      b.flashAttention!(smallHeads, smallHeads, smallHeads, null, { scale: 1, causal: false, window: null }),
    ).toBeNull();
    for (const dtype of ['bfloat16', 'float16'] as const) {
      for (const headDim of [64, 128]) {
        const q = view(dtype, [2, 4, 70, headDim], [70 * 4 * headDim, headDim, 4 * headDim, 1]);
        const kv = view(dtype, [2, 2, 90, headDim]);
        const mask = view('bool', [2, 90]);
        const options = { scale: 0.125, causal: true, window: 16 };
        const forward = b.flashAttention!(q, kv, kv, mask, options);
        expect(forward, `flashAttention takes ${dtype} with head size ${headDim}`).not.toBeNull();
        b.flashAttentionBackward!(
          q,
          q,
          kv,
          kv,
          view(dtype, [2, 4, 70, headDim]),
          view('float32', [2, 4, 70]),
          mask,
          options,
        );
      }
    }
    b.checkIndexBounds!(i64, { low: 0, high: 4, error: () => new Error('x') });
    b.dequantize4bit!(view('int32', [2]), view('float32', [1]), view('float32', [16]), 16, 16, 'float32');
    b.dequantizeInt8!(view('int32', [2]), view('float32', [2]), 2, 4, 1, 'bfloat16');
    b.unary('exp', view('float64', [4, 6]), 'float32');
    b.binary('mul', view('float64', [4]), view('float64', [4]), 'float64');
    b.where(view('bool', [3]), view('int64', [3]), view('int64', [3]), 'int64');
    b.assign(view('int32', [4]), view('float32', [4]));
    b.assign(view('bfloat16', [4]), view('float32', [4]));
    b.full('float64', 3, 1);
    b.rotary!(view('float64', [2, 4]), view('float64', [2, 4]), view('float64', [2, 4]), false);
    b.softmaxCrossEntropyBackward!(view('float64', [4, 6]), view('float64', [4]), view('int64', [4, 1]));
    for (const launch of launches) {
      const struct = kernels.get(launch.kernel);
      expect(struct, `kernel ${launch.kernel} exists in the source`).toBeDefined();
      expect(launch.slots, `${launch.kernel} (${struct})`).toBe(structs.get(struct!));
    }
    const launched = new Set(launches.map((l) => l.kernel));
    const never = [...kernels.keys()].filter((k) => !launched.has(k));
    expect(never).toEqual([]);
  });
});

describe('op codes (no GPU needed)', () => {
  it("the CUDA UnaryCode and BinaryCode enums list tensor's ops in the order the backend sends them", () => {
    const source = kernelSource();
    const names = (enumName: string) =>
      source
        .match(new RegExp(`enum ${enumName} \\{([^}]*)\\}`))![1]!
        .split(',')
        .map((n) =>
          n
            .trim()
            .replace(/^[UB]_/, '')
            .toLowerCase(),
        )
        .filter(Boolean);
    expect(names('UnaryCode')).toEqual([...OP_CODES.unary]);
    expect(names('BinaryCode')).toEqual([...OP_CODES.binary]);
  });
});
