/**
 * Loads the native addon (build/Release or prebuilds/, through node-gyp-build). Loading is attempted once,
 * silently, when this module is evaluated, so `nativeAvailable` and `nativeLoadError` are plain constants;
 * the one warning is printed only when someone asks for the native backend through `loadNative()`.
 */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeUnavailableError } from './errors.js';

/** The addon's exports (native/addon.cc). Arguments are validated in sgemm.ts before any call (dgemm too). */
export interface NativeBinding {
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    aOffset: number,
    lda: number,
    b: Float32Array,
    bOffset: number,
    ldb: number,
    beta: number,
    c: Float32Array,
    cOffset: number,
    ldc: number,
  ): void;
  sgemmStridedBatched(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    aOffset: number,
    lda: number,
    b: Float32Array,
    bOffset: number,
    ldb: number,
    beta: number,
    c: Float32Array,
    cOffset: number,
    ldc: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
  ): void;
  /** sgemm's arguments with Float64Arrays. */
  dgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float64Array,
    aOffset: number,
    lda: number,
    b: Float64Array,
    bOffset: number,
    ldb: number,
    beta: number,
    c: Float64Array,
    cOffset: number,
    ldc: number,
  ): void;
  dgemmStridedBatched(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float64Array,
    aOffset: number,
    lda: number,
    b: Float64Array,
    bOffset: number,
    ldb: number,
    beta: number,
    c: Float64Array,
    cOffset: number,
    ldc: number,
    batch: number,
    strideA: number,
    strideB: number,
    strideC: number,
  ): void;
  getNumThreads(): number;
  setNumThreads(n: number): void;
  kernelName(): string;
  setKernel(kernel: string): boolean;
  avx2FmaUsable(): boolean;
  avx512Usable(): boolean;
  /** glibc's mallopt(M_MMAP_THRESHOLD / M_TRIM_THRESHOLD); false elsewhere. */
  tuneAllocator(mmapThreshold: number, trimThreshold: number): boolean;
  /** madvise(MADV_HUGEPAGE) on the whole 2 MiB pages of a fresh typed array (Linux); false elsewhere. */
  adviseHugePages(array: TypedArray): boolean;
  /** The tensor kernels (native/tensor_binding.cc); their arguments are prepared in src/backend/. */
  opNames(): { unary: string[]; binary: string[]; reduce: string[] };
  unary(
    op: number,
    layout: Float64Array,
    out: TypedArray,
    outDtype: number,
    x: TypedArray,
    xDtype: number,
    p0: number,
    p1: number,
  ): void;
  binary(
    op: number,
    layout: Float64Array,
    out: TypedArray,
    outDtype: number,
    a: TypedArray,
    aDtype: number,
    b: TypedArray,
    bDtype: number,
  ): void;
  where(
    layout: Float64Array,
    out: TypedArray,
    outDtype: number,
    condition: Uint8Array,
    a: TypedArray,
    aDtype: number,
    b: TypedArray,
    bDtype: number,
  ): void;
  convert(layout: Float64Array, out: TypedArray, outDtype: number, x: TypedArray, xDtype: number): void;
  reduce(
    op: number,
    kept: Float64Array,
    reduced: Float64Array,
    out: TypedArray,
    outDtype: number,
    x: TypedArray,
    xDtype: number,
  ): void;
  argReduce(
    isMax: boolean,
    outer: Float64Array,
    n: number,
    step: number,
    out: Float64Array,
    x: TypedArray,
    xDtype: number,
  ): void;
  softmax(
    outer: Float64Array,
    n: number,
    outStep: number,
    xStep: number,
    out: TypedArray,
    x: TypedArray,
    dtype: number,
    log: boolean,
  ): void;
  rmsNorm(
    rows: number,
    width: number,
    rowStride: number,
    x: Float32Array,
    xOffset: number,
    weight: Float32Array | null,
    weightOffset: number,
    eps: number,
    out: Float32Array,
    rstd: Float32Array,
  ): void;
  /**
   * rows: the layout of x's leading dims, operands (out, x, cos, sin); each row is 2·half floats, the
   * last-dim strides apart in x, cos and sin.
   */
  rotary(
    rows: Float64Array,
    half: number,
    xStride: number,
    cosStride: number,
    sinStride: number,
    out: Float32Array,
    x: Float32Array,
    cos: Float32Array,
    sin: Float32Array,
    transposed: boolean,
  ): void;
  /**
   * Scores [batch, heads, queries, keys] as contiguous rows from xOffset; the bias (or null) read at
   * biasOffset + b·biasBatchStride + h·biasHeadStride + i·biasQueryStride with contiguous rows.
   */
  attentionSoftmax(
    batch: number,
    heads: number,
    queries: number,
    keys: number,
    x: Float32Array,
    xOffset: number,
    bias: Float32Array | null,
    biasOffset: number,
    biasBatchStride: number,
    biasHeadStride: number,
    biasQueryStride: number,
    scale: number,
    causal: boolean,
    out: Float32Array,
  ): void;
  /**
   * exp(logProbs)·grad − onehot(target)·grad for rows of `classes` contiguous log-probabilities
   * rowStride apart; grad and target (int64 values in a Float64Array) one element per row, their
   * strides apart. out contiguous.
   */
  softmaxCrossEntropyBackward(
    rows: number,
    classes: number,
    logProbs: Float32Array,
    logProbsOffset: number,
    rowStride: number,
    grad: Float32Array,
    gradOffset: number,
    gradStride: number,
    target: Float64Array,
    targetOffset: number,
    targetStride: number,
    out: Float32Array,
  ): void;
  /** `rows` rows of `keys` contiguous floats in grad and probs; out contiguous. */
  attentionSoftmaxBackward(
    rows: number,
    keys: number,
    grad: Float32Array,
    gradOffset: number,
    probs: Float32Array,
    probsOffset: number,
    scale: number,
    out: Float32Array,
  ): void;
  /** layout operands (out, gate, up). */
  swiglu(layout: Float64Array, out: Float32Array, gate: Float32Array, up: Float32Array): void;
  /** layout operands (out, grad, gate, up); out's offsets and strides address both outputs. */
  swigluBackward(
    layout: Float64Array,
    dGate: Float32Array | null,
    dUp: Float32Array | null,
    grad: Float32Array,
    gate: Float32Array,
    up: Float32Array,
  ): void;
  layerNorm(
    rows: number,
    width: number,
    rowStride: number,
    x: Float32Array,
    xOffset: number,
    weight: Float32Array | null,
    weightOffset: number,
    bias: Float32Array | null,
    biasOffset: number,
    eps: number,
    out: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
  ): void;
  gather(
    layout: Float64Array,
    axisStride: number,
    out: TypedArray,
    x: TypedArray,
    dtype: number,
    index: TypedArray,
    indexDtype: number,
  ): void;
  scatterAdd(
    layout: Float64Array,
    axisStride: number,
    out: TypedArray,
    dtype: number,
    index: TypedArray,
    indexDtype: number,
    src: TypedArray,
  ): void;
  indexSelect(
    outer: Float64Array,
    inner: Float64Array,
    outAxisStride: number,
    xAxisStride: number,
    out: TypedArray,
    x: TypedArray,
    dtype: number,
    index: TypedArray,
    indexDtype: number,
    indexOffset: number,
    indexStride: number,
    count: number,
  ): void;
  indexAdd(
    outer: Float64Array,
    inner: Float64Array,
    outAxisStride: number,
    srcAxisStride: number,
    out: TypedArray,
    src: TypedArray,
    dtype: number,
    index: TypedArray,
    indexDtype: number,
    indexOffset: number,
    indexStride: number,
    count: number,
  ): void;
  svd(
    a: Float64Array,
    m: number,
    n: number,
    full: boolean,
    maxSweeps: number,
    u: Float64Array,
    s: Float64Array,
    vh: Float64Array,
  ): number;
  qr(a: Float64Array, m: number, n: number, q: Float64Array, r: Float64Array): void;
  eigh(a: Float64Array, n: number, maxSweeps: number, values: Float64Array, vectors: Float64Array): number;
  im2col(geometry: Float64Array, out: TypedArray, x: TypedArray, dtype: number): void;
  col2im(geometry: Float64Array, out: TypedArray, columns: TypedArray, dtype: number): void;
}

/** The typed arrays the tensor kernels read and write (the JS backend's storage types). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;

// src/native.ts and dist/index.{js,cjs} both sit one folder below the package root.
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function tryLoad(): { binding: NativeBinding; error?: undefined } | { binding?: undefined; error: string } {
  if (process.env.LORAKIT_CPU_BACKEND_DISABLE === '1') {
    return { error: 'disabled by LORAKIT_CPU_BACKEND_DISABLE=1' };
  }
  try {
    const require = createRequire(resolve(packageRoot, 'package.json'));
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    return { binding: nodeGypBuild(packageRoot) };
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const first = message.split('\n')[0] ?? message;
    return {
      error: first.startsWith('No native build was found')
        ? `${first}; the build at install did not run or failed (run \`pnpm --filter @lorakit/cpu-backend build:native\` to see why)`
        : first,
    };
  }
}

const loaded = tryLoad();

/** Whether the native addon loaded in this process. */
export const nativeAvailable: boolean = loaded.binding !== undefined;

/** Why the addon did not load (undefined when it did). */
export const nativeLoadError: string | undefined = loaded.error;

let warned = false;

/**
 * The native binding, or undefined when it is not available; in that case the first call prints one
 * warning saying the JavaScript backend will be used and why. Meant for whoever chooses the backend.
 */
export function loadNative(): NativeBinding | undefined {
  if (loaded.binding) return loaded.binding;
  if (!warned) {
    warned = true;
    console.warn(
      `@lorakit/cpu-backend: native addon not available (${loaded.error}); the JavaScript backend will be used`,
    );
  }
  return undefined;
}

/** The binding for an operation that cannot run without it. */
export function requireNative(operation: string): NativeBinding {
  if (loaded.binding) return loaded.binding;
  throw new NativeUnavailableError(
    `[${operation}] the native addon is not available (${loaded.error}); check nativeAvailable before using the CPU backend`,
  );
}
