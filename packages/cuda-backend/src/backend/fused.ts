/** The optional fused kernels of the contract on the GPU (kernels/fused.cuh, cuBLASLt for loraLinear). */
import type { AdamWStepOptions, AdamWTensors, Dtype } from '@lorakit/tensor';
import { address, type Context, computeSuffix, elementwiseKernels } from './elementwise.js';
import { matmulKernels } from './matmul.js';
import { assertRank, coalesce, isRowMajor, rowMajor, sizeOf } from './params.js';
import { type CudaStorage, type CudaView, DTYPE_CODE } from './storage.js';

export function fusedKernels(context: Context) {
  const { device, memory } = context;
  const p = device.params;
  const elementwise = elementwiseKernels(context);
  const products = matmulKernels(context);

  /** The view itself when row-major, else a contiguous copy (returned for disposal). */
  function rowMajorView(view: CudaView, temporaries: CudaStorage[]): CudaView {
    if (isRowMajor(view.shape, view.strides)) return view;
    const storage = elementwise.copy(view, view.dtype);
    temporaries.push(storage);
    return { storage, dtype: view.dtype, shape: view.shape, strides: rowMajor(view.shape), offset: 0 };
  }

  function norm(
    op: 'rmsNorm' | 'layerNorm',
    x: CudaView,
    weight: CudaView | null,
    bias: CudaView | null,
    eps: number,
  ): { out: CudaStorage; mean: CudaStorage | null; rstd: CudaStorage } {
    const temporaries: CudaStorage[] = [];
    try {
      const input = rowMajorView(x, temporaries);
      const w = weight ? rowMajorView(weight, temporaries) : null;
      const b = bias ? rowMajorView(bias, temporaries) : null;
      const width = x.shape[x.shape.length - 1]!;
      const size = sizeOf(x.shape);
      const rows = width === 0 ? 0 : size / width;
      const out = memory.allocate(x.dtype, size, op);
      const statDtype = statisticsDtype(x.dtype);
      const rstd = memory.allocate(statDtype, rows, op);
      const mean = op === 'layerNorm' ? memory.allocate(statDtype, rows, op) : null;
      if (rows > 0) {
        const perBlock = width >= 1024 || rows <= device.info.multiprocessors;
        p.begin()
          .int(out.pointer)
          .int(mean?.pointer ?? 0)
          .int(rstd.pointer)
          .int(address(input));
        p.int(w ? address(w) : 0)
          .int(b ? address(b) : 0)
          .int(DTYPE_CODE[x.dtype]);
        p.int(w ? DTYPE_CODE[w.dtype] : 0)
          .int(b ? DTYPE_CODE[b.dtype] : 0)
          .int(rows)
          .int(width)
          .real(eps);
        p.int(perBlock ? 1 : 0)
          .int(op === 'layerNorm' ? 1 : 0)
          .int(DTYPE_CODE[statDtype]);
        const blocks = perBlock ? Math.min(rows, device.info.multiprocessors * 8) : device.blocksFor(rows, 8);
        device.launch(op, 'norm_rows', blocks, 256);
      }
      return { out, mean, rstd };
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function rmsNormBackward(
    grad: CudaView,
    x: CudaView,
    weight: CudaView | null,
    rstd: CudaView,
  ): CudaStorage {
    const temporaries: CudaStorage[] = [];
    try {
      const g = rowMajorView(grad, temporaries);
      const input = rowMajorView(x, temporaries);
      const w = weight ? rowMajorView(weight, temporaries) : null;
      const r = rowMajorView(rstd, temporaries);
      const width = x.shape[x.shape.length - 1]!;
      const size = sizeOf(x.shape);
      const rows = width === 0 ? 0 : size / width;
      const dx = memory.allocate(x.dtype, size, 'rmsNormBackward');
      if (rows > 0) {
        const perBlock = width >= 1024 || rows <= device.info.multiprocessors;
        p.begin()
          .int(dx.pointer)
          .int(address(g))
          .int(address(input))
          .int(w ? address(w) : 0)
          .int(address(r));
        p.int(DTYPE_CODE[x.dtype])
          .int(w ? DTYPE_CODE[w.dtype] : 0)
          .int(DTYPE_CODE[r.dtype])
          .int(rows)
          .int(width)
          .int(perBlock ? 1 : 0);
        const blocks = perBlock ? Math.min(rows, device.info.multiprocessors * 8) : device.blocksFor(rows, 8);
        device.launch('rmsNormBackward', 'rms_norm_backward', blocks, 256);
      }
      return dx;
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function loraLinear(
    x: CudaView,
    weight: CudaView,
    bias: CudaView | null,
    a: CudaView,
    b: CudaView,
    scale: number,
  ): { out: CudaStorage; hidden: CudaStorage } {
    const temporaries: CudaStorage[] = [];
    const as = (view: CudaView): CudaView => {
      if (view.dtype === x.dtype) return view;
      const storage = elementwise.copy(view, x.dtype);
      temporaries.push(storage);
      return { storage, dtype: x.dtype, shape: view.shape, strides: rowMajor(view.shape), offset: 0 };
    };
    const transposed = (v: CudaView): CudaView => ({
      ...v,
      shape: [v.shape[1]!, v.shape[0]!],
      strides: [v.strides[1]!, v.strides[0]!],
    });
    try {
      const rows = x.shape[0]!;
      const outFeatures = weight.shape[0]!;
      const r = a.shape[0]!;
      const out = memory.allocate(x.dtype, rows * outFeatures, 'loraLinear');
      const hidden = memory.allocate(x.dtype, rows * r, 'loraLinear');
      if (bias) {
        const biasView = as(bias);
        elementwise.assign(
          { storage: out, dtype: x.dtype, shape: [rows, outFeatures], strides: [outFeatures, 1], offset: 0 },
          { ...biasView, shape: [rows, outFeatures], strides: [0, biasView.strides[0]!] },
        );
      }
      products.gemm(x, transposed(as(weight)), out.pointer, 1, bias ? 1 : 0);
      products.gemm(x, transposed(as(a)), hidden.pointer, 1, 0);
      const h: CudaView = { storage: hidden, dtype: x.dtype, shape: [rows, r], strides: [r, 1], offset: 0 };
      products.gemm(h, transposed(as(b)), out.pointer, scale, 1);
      return { out, hidden };
    } finally {
      for (const t of temporaries) memory.dispose(t);
    }
  }

  function rotary(x: CudaView, cos: CudaView, sin: CudaView, transposed: boolean): CudaStorage {
    const size = sizeOf(x.shape);
    const out = memory.allocate(x.dtype, size, 'rotary');
    if (size === 0) return out;
    assertRank('rotary', x.shape.length, x.shape);
    p.begin()
      .shape(x.shape)
      .arg(x, x.strides, x.shape)
      .arg(cos, cos.strides, x.shape)
      .arg(sin, sin.strides, x.shape);
    p.int(out.pointer).int(transposed ? 1 : 0);
    device.launch('rotary', `rotary_${computeSuffix(x.dtype)}`, device.blocksFor(size), 256);
    return out;
  }

  function swigluBackward(
    grad: CudaView,
    gate: CudaView,
    up: CudaView,
    needs: readonly [boolean, boolean],
  ): { gate: CudaStorage | null; up: CudaStorage | null } {
    const size = sizeOf(grad.shape);
    const dGate = needs[0] ? memory.allocate(grad.dtype, size, 'swigluBackward') : null;
    const dUp = needs[1] ? memory.allocate(grad.dtype, size, 'swigluBackward') : null;
    if (size === 0 || (!dGate && !dUp)) return { gate: dGate, up: dUp };
    const layout = coalesce(grad.shape, [grad.strides, gate.strides, up.strides]);
    assertRank('swigluBackward', layout.shape.length, grad.shape);
    p.begin().shape(layout.shape).arg(grad, layout.strides[0]!, layout.shape);
    p.arg(gate, layout.strides[1]!, layout.shape).arg(up, layout.strides[2]!, layout.shape);
    p.int(dGate?.pointer ?? 0).int(dUp?.pointer ?? 0);
    device.launch('swigluBackward', 'swiglu_backward', device.blocksFor(size), 256);
    return { gate: dGate, up: dUp };
  }

  /** Packs the row layout shared by the attention softmax and its backward. */
  function attention(
    op: string,
    kernel: string,
    out: CudaStorage,
    x: CudaView,
    y: CudaView | null,
    scale: number,
    causal: boolean,
  ): void {
    const rank = x.shape.length;
    const keys = x.shape[rank - 1]!;
    const queries = x.shape[rank - 2] ?? 1;
    const size = sizeOf(x.shape);
    if (size === 0) return;
    const rows = size / keys;
    const rowDims = x.shape.slice(0, -1);
    assertRank(op, rowDims.length, x.shape);
    const perBlock = keys >= 1024 || rows <= device.info.multiprocessors;
    p.begin()
      .int(out.pointer)
      .int(x.storage.pointer)
      .int(y?.storage.pointer ?? 0)
      .int(DTYPE_CODE[x.dtype]);
    p.int(y ? DTYPE_CODE[y.dtype] : 0)
      .int(rows)
      .int(queries)
      .int(keys)
      .real(scale)
      .int(causal ? 1 : 0);
    p.int(perBlock ? 1 : 0)
      .int(rowDims.length)
      .ints(rowDims);
    p.int(x.offset)
      .ints(x.strides.slice(0, -1))
      .int(x.strides[rank - 1]!);
    p.int(y?.offset ?? 0)
      .ints(y ? y.strides.slice(0, -1) : [])
      .int(y ? y.strides[rank - 1]! : 0);
    const blocks = perBlock ? Math.min(rows, device.info.multiprocessors * 8) : device.blocksFor(rows, 8);
    device.launch(op, kernel, blocks, 256);
  }

  function softmaxCrossEntropyBackward(logProbs: CudaView, grad: CudaView, target: CudaView): CudaStorage {
    const [rows, classes] = logProbs.shape as [number, number];
    const out = memory.allocate(logProbs.dtype, rows * classes, 'crossEntropyBackward');
    if (rows * classes === 0) return out;
    p.begin().int(out.pointer).arg(logProbs, logProbs.strides, logProbs.shape);
    p.arg(grad, grad.strides, grad.shape).arg(target, target.strides, target.shape).int(rows).int(classes);
    device.launch(
      'crossEntropyBackward',
      `ce_backward_${computeSuffix(logProbs.dtype)}`,
      device.blocksFor(rows * classes),
      256,
    );
    return out;
  }

  function adamwStep(
    param: CudaView,
    grad: CudaView,
    expAvg: CudaView,
    expAvgSq: CudaView,
    maxExpAvgSq: CudaView | null,
    options: AdamWStepOptions,
  ): void {
    const size = sizeOf(param.shape);
    if (size === 0) return;
    const c = adamwCoefficients(param.dtype === 'float32', options);
    p.begin().int(address(param)).int(address(grad)).int(address(expAvg)).int(address(expAvgSq));
    p.int(maxExpAvgSq ? address(maxExpAvgSq) : 0)
      .int(size)
      .int(options.weightDecay !== 0 ? 1 : 0)
      .int(c.small ? 1 : 0);
    p.real(c.decay).real(c.lerpWeight).real(c.beta2).real(c.oneMinusBeta2).real(c.biasCorrection2Sqrt);
    p.real(c.negStepSize).real(c.eps);
    device.launch(
      'adamwStep',
      param.dtype === 'float32' ? 'adamw_f32' : 'adamw_f64',
      device.blocksFor(size),
      256,
    );
  }

  /** Parameters per launch of adamw_multi (ADAMW_MULTI in kernels/fused.cuh). */
  const MULTI = 48;

  function adamwStepMulti(items: readonly AdamWTensors<CudaView>[], options: AdamWStepOptions): void {
    const live = items.filter((t) => sizeOf(t.param.shape) > 0);
    if (live.length === 0) return;
    const dtype = live[0]!.param.dtype;
    const c = adamwCoefficients(dtype === 'float32', options);
    for (let start = 0; start < live.length; start += MULTI) {
      const chunk = live.slice(start, start + MULTI);
      const pad = (values: number[]) => [...values, ...new Array<number>(MULTI - values.length).fill(0)];
      p.begin()
        .int(chunk.length)
        .int(options.weightDecay !== 0 ? 1 : 0)
        .int(c.small ? 1 : 0);
      p.real(c.decay).real(c.lerpWeight).real(c.beta2).real(c.oneMinusBeta2).real(c.biasCorrection2Sqrt);
      p.real(c.negStepSize).real(c.eps);
      p.ints(pad(chunk.map((t) => address(t.param))), MULTI);
      p.ints(pad(chunk.map((t) => address(t.grad))), MULTI);
      p.ints(pad(chunk.map((t) => address(t.expAvg))), MULTI);
      p.ints(pad(chunk.map((t) => address(t.expAvgSq))), MULTI);
      p.ints(pad(chunk.map((t) => (t.maxExpAvgSq ? address(t.maxExpAvgSq) : 0))), MULTI);
      p.ints(pad(chunk.map((t) => sizeOf(t.param.shape))), MULTI);
      const largest = Math.max(...chunk.map((t) => sizeOf(t.param.shape)));
      const blocks = Math.min(
        device.blocksFor(largest),
        Math.max(1, Math.ceil((device.info.multiprocessors * 8) / chunk.length)),
      );
      device.launch(
        'adamwStepMulti',
        dtype === 'float32' ? 'adamw_multi_f32' : 'adamw_multi_f64',
        blocks,
        256,
        0,
        chunk.length,
      );
    }
  }

  return {
    adamwStepMulti,
    rmsNorm: (x: CudaView, weight: CudaView | null, eps: number) => {
      const { out, rstd } = norm('rmsNorm', x, weight, null, eps);
      return { out, rstd };
    },
    rmsNormBackward,
    layerNorm: (x: CudaView, weight: CudaView | null, bias: CudaView | null, eps: number) => {
      const { out, mean, rstd } = norm('layerNorm', x, weight, bias, eps);
      return { out, mean: mean!, rstd };
    },
    loraLinear,
    rotary,
    swigluBackward,
    attentionSoftmax: (x: CudaView, scale: number, bias: CudaView | null, causal: boolean) => {
      const out = memory.allocate(x.dtype, sizeOf(x.shape), 'attentionSoftmax');
      attention('attentionSoftmax', 'attention_softmax', out, x, bias, scale, causal);
      return out;
    },
    attentionSoftmaxBackward: (grad: CudaView, probs: CudaView, scale: number) => {
      const out = memory.allocate(probs.dtype, sizeOf(probs.shape), 'attentionSoftmaxBackward');
      attention('attentionSoftmaxBackward', 'attention_softmax_backward', out, grad, probs, scale, false);
      return out;
    },
    softmaxCrossEntropyBackward,
    adamwStep,
  };
}

/** Norm statistics (mean, rstd) are float32 for 16-bit inputs, as PyTorch's fused norms keep them. */
function statisticsDtype(dtype: Dtype): Dtype {
  return dtype === 'float16' || dtype === 'bfloat16' ? 'float32' : dtype;
}

/**
 * The scalars of one AdamW update, rounded to the dtype exactly as the composed ops round them (the same
 * rules as the JavaScript backend's adamwStep, so that the kernel's float32 results are bit-identical).
 */
export function adamwCoefficients(single: boolean, options: AdamWStepOptions) {
  const round = single ? Math.fround : (v: number) => v;
  const { lr, beta1, beta2, eps, weightDecay, step } = options;
  const weight = 1 - beta1;
  const small = Math.abs(weight) < 0.5;
  return {
    decay: weightDecay === 0 ? 1 : round(1 - lr * weightDecay),
    small,
    lerpWeight: small ? round(weight) : Math.fround(1 - Math.fround(weight)),
    beta2: round(beta2),
    oneMinusBeta2: round(1 - beta2),
    biasCorrection2Sqrt: round((1 - beta2 ** step) ** 0.5),
    negStepSize: round(-(lr / (1 - beta1 ** step))),
    eps: round(eps),
  };
}
