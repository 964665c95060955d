/** Host transfers, creation, copies and elementwise kernels of the cuda backend. */
import {
  BINARY_OPS,
  type BinaryOp,
  type Dtype,
  type HostArray,
  type RandomSpec,
  UNARY_OPS,
  type UnaryOp,
} from '@lorakit/tensor';
import type { Device } from '../device.js';
import { assertRank, coalesce, isRowMajor, rowMajor, sizeOf } from './params.js';
import {
  type CudaStorage,
  type CudaView,
  DTYPE_CODE,
  ELEMENT_BYTES,
  hostArrayFor,
  hostDtype,
  type Memory,
  readDtype,
} from './storage.js';

/** Op codes: tensor's UNARY_OPS / BINARY_OPS order, which the UnaryCode and BinaryCode enums of
 * kernels/elementwise.cuh follow, plus `copy` (a conversion with cast semantics) and `swiglu` (silu(a)·b). */
const UNARY_NAMES: readonly string[] = [...UNARY_OPS, 'copy'];
const BINARY_NAMES: readonly string[] = [...BINARY_OPS, 'swiglu'];
const UNARY_CODE = new Map<string, number>(UNARY_NAMES.map((op, i) => [op, i]));
const BINARY_CODE = new Map<string, number>(BINARY_NAMES.map((op, i) => [op, i]));

/** Kernels compute in float for float32 and 16-bit data, in double when float64 or integers take part. */
export function computeSuffix(...dtypes: Dtype[]): 'f32' | 'f64' {
  return dtypes.some((d) => d === 'float64' || d === 'int32' || d === 'int64') ? 'f64' : 'f32';
}

/** Address of a view's first element. */
export function address(view: CudaView): number {
  return view.storage.pointer + view.offset * ELEMENT_BYTES[view.dtype];
}

export interface Context {
  readonly device: Device;
  readonly memory: Memory;
}

/** The op codes, for tests that compare them with the CUDA enums. */
export const OP_CODES = { unary: UNARY_NAMES, binary: BINARY_NAMES };

export function elementwiseKernels({ device, memory }: Context) {
  const p = device.params;

  function unary(
    op: UnaryOp | 'copy',
    x: CudaView,
    outDtype: Dtype,
    params: readonly number[] = [],
  ): CudaStorage {
    const name = `unary:${op}`;
    const n = sizeOf(x.shape);
    const out = memory.allocate(outDtype, n, name);
    if (n === 0) return out;
    const code = UNARY_CODE.get(op)!;
    if (
      x.dtype === 'float32' &&
      outDtype === 'float32' &&
      n >= 4 &&
      x.offset % 4 === 0 &&
      isRowMajor(x.shape, x.strides)
    ) {
      p.begin().shape([n]).arg(x, [1], [n]).int(out.pointer).int(DTYPE_CODE[outDtype]).int(code);
      p.real(params[0] ?? 0).real(params[1] ?? 0);
      device.launch(name, 'unary_f32_vec4', device.blocksFor(n / 4), 256);
      return out;
    }
    const layout = coalesce(x.shape, [x.strides]);
    assertRank(name, layout.shape.length, x.shape);
    p.begin().shape(layout.shape).arg(x, layout.strides[0]!, layout.shape);
    p.int(out.pointer)
      .int(DTYPE_CODE[outDtype])
      .int(code)
      .real(params[0] ?? 0)
      .real(params[1] ?? 0);
    device.launch(name, `unary_${computeSuffix(x.dtype, outDtype)}`, device.blocksFor(n), 256);
    return out;
  }

  function binary(op: BinaryOp | 'swiglu', a: CudaView, b: CudaView, outDtype: Dtype): CudaStorage {
    const name = `binary:${op}`;
    const n = sizeOf(a.shape);
    const out = memory.allocate(outDtype, n, name);
    if (n === 0) return out;
    const code = BINARY_CODE.get(op)!;
    if (
      a.dtype === 'float32' &&
      b.dtype === 'float32' &&
      outDtype === 'float32' &&
      n >= 4 &&
      a.offset % 4 === 0 &&
      b.offset % 4 === 0 &&
      isRowMajor(a.shape, a.strides) &&
      isRowMajor(b.shape, b.strides)
    ) {
      p.begin().shape([n]).arg(a, [1], [n]).arg(b, [1], [n]);
      p.int(out.pointer).int(DTYPE_CODE[outDtype]).int(code);
      device.launch(name, 'binary_f32_vec4', device.blocksFor(n / 4), 256);
      return out;
    }
    const layout = coalesce(a.shape, [a.strides, b.strides]);
    assertRank(name, layout.shape.length, a.shape);
    p.begin()
      .shape(layout.shape)
      .arg(a, layout.strides[0]!, layout.shape)
      .arg(b, layout.strides[1]!, layout.shape);
    p.int(out.pointer).int(DTYPE_CODE[outDtype]).int(code);
    device.launch(name, `binary_${computeSuffix(a.dtype, b.dtype, outDtype)}`, device.blocksFor(n), 256);
    return out;
  }

  function where(condition: CudaView, a: CudaView, b: CudaView, outDtype: Dtype): CudaStorage {
    const n = sizeOf(a.shape);
    const out = memory.allocate(outDtype, n, 'where');
    if (n === 0) return out;
    const layout = coalesce(a.shape, [condition.strides, a.strides, b.strides]);
    assertRank('where', layout.shape.length, a.shape);
    p.begin().shape(layout.shape);
    p.arg(condition, layout.strides[0]!, layout.shape).arg(a, layout.strides[1]!, layout.shape);
    p.arg(b, layout.strides[2]!, layout.shape).int(out.pointer).int(DTYPE_CODE[outDtype]);
    device.launch('where', `where_${computeSuffix(a.dtype, b.dtype, outDtype)}`, device.blocksFor(n), 256);
    return out;
  }

  /** Strided write of src into dst (dst may be any view), converting to dst's dtype. */
  function assign(dst: CudaView, src: CudaView): void {
    const n = sizeOf(dst.shape);
    if (n === 0) return;
    const layout = coalesce(dst.shape, [dst.strides, src.strides]);
    assertRank('assign', layout.shape.length, dst.shape);
    p.begin()
      .shape(layout.shape)
      .arg(dst, layout.strides[0]!, layout.shape)
      .arg(src, layout.strides[1]!, layout.shape);
    const kernel =
      dst.dtype === src.dtype
        ? `assign_bits${ELEMENT_BYTES[dst.dtype] * 8}`
        : `assign_${computeSuffix(dst.dtype, src.dtype)}`;
    device.launch('assign', kernel, device.blocksFor(n), 256);
  }

  /** Contiguous copy converting to `dtype`: a device-to-device copy when nothing changes. */
  function copy(x: CudaView, dtype: Dtype): CudaStorage {
    const n = sizeOf(x.shape);
    if (dtype !== x.dtype) return unary('copy', x, dtype);
    const out = memory.allocate(dtype, n, 'copy');
    if (n === 0) return out;
    if (isRowMajor(x.shape, x.strides)) {
      device.native.copyDevice(out.pointer, address(x), n * ELEMENT_BYTES[dtype]);
      return out;
    }
    assign({ storage: out, dtype, shape: x.shape, strides: rowMajor(x.shape), offset: 0 }, x);
    return out;
  }

  function fill(dtype: Dtype, size: number, start: number, step: number, op: string): CudaStorage {
    const out = memory.allocate(dtype, size, op);
    if (size === 0) return out;
    if (start === 0 && step === 0 && !Object.is(start, -0)) {
      device.native.fill8(out.pointer, 0, size * ELEMENT_BYTES[dtype]);
      return out;
    }
    p.begin().int(out.pointer).int(DTYPE_CODE[dtype]).int(size).real(start).real(step);
    device.launch(op, 'fill_f64', device.blocksFor(size), 256);
    return out;
  }

  function random(
    dtype: Dtype,
    size: number,
    spec: RandomSpec,
    key: readonly [number, number],
    counter: number,
  ): CudaStorage {
    const out = memory.allocate(dtype, size, 'random');
    if (size === 0) return out;
    const [kind, a, b] =
      spec.kind === 'uniform'
        ? [0, spec.low, spec.high]
        : spec.kind === 'normal'
          ? [1, spec.mean, spec.std]
          : spec.kind === 'bernoulli'
            ? [2, spec.p, 0]
            : [3, spec.low, spec.high];
    p.begin().int(out.pointer).int(DTYPE_CODE[dtype]).int(size).int(kind).real(a).real(b);
    p.int(key[0] >>> 0)
      .int(key[1] >>> 0)
      .int(counter);
    device.launch('random', 'random_fill', device.blocksFor(size), 256);
    return out;
  }

  function fromHost(data: HostArray, dtype: Dtype): CudaStorage {
    const layoutDtype = hostDtype(data);
    const n = data.length;
    const staged = memory.allocate(layoutDtype, n, 'fromHost');
    device.native.upload(staged.pointer, data);
    if (layoutDtype === dtype) return staged;
    const out = unary(
      'copy',
      { storage: staged, dtype: layoutDtype, shape: [n], strides: [1], offset: 0 },
      dtype,
    );
    memory.dispose(staged);
    return out;
  }

  function toHost(x: CudaView): HostArray {
    const n = sizeOf(x.shape);
    const dtype = readDtype(x.dtype);
    const host = hostArrayFor(dtype, n);
    if (n === 0) {
      device.synchronize('toHost');
      return host;
    }
    if (dtype === x.dtype && isRowMajor(x.shape, x.strides)) {
      device.download(address(x), host, 'toHost');
      return host;
    }
    const staged = copy(x, dtype);
    try {
      device.download(staged.pointer, host, 'toHost');
    } finally {
      memory.dispose(staged);
    }
    return host;
  }

  return {
    unary: (op: UnaryOp, x: CudaView, outDtype: Dtype, params?: readonly number[]) =>
      unary(op, x, outDtype, params),
    binary: (op: BinaryOp, a: CudaView, b: CudaView, outDtype: Dtype) => binary(op, a, b, outDtype),
    swiglu: (gate: CudaView, up: CudaView) => binary('swiglu', gate, up, gate.dtype),
    where,
    assign,
    copy,
    full: (dtype: Dtype, size: number, value: number) => fill(dtype, size, value, 0, 'full'),
    arange: (dtype: Dtype, start: number, step: number, size: number) =>
      fill(dtype, size, start, step, 'arange'),
    random,
    fromHost,
    toHost,
  };
}
