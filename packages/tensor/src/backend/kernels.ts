import type { Dtype, HostArray } from '../dtype.js';
import type { Shape } from '../shape.js';

/** A strided window onto a storage: what every kernel receives. Views never own memory. */
export interface View<S = unknown> {
  readonly storage: S;
  readonly dtype: Dtype;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * Elementwise unary ops, in a fixed order that native backends may use as op codes. `pow_scalar` takes
 * params [exponent]; `clamp` takes params [min, max] (either may be ±Infinity).
 */
export const UNARY_OPS = [
  'neg',
  'abs',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'relu',
  'silu',
  'gelu',
  'gelu_tanh',
  'erf',
  'sign',
  'reciprocal',
  'square',
  'floor',
  'ceil',
  'round',
  'not',
  'isnan',
  'isinf',
  'pow_scalar',
  'clamp',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Elementwise binary ops, in a fixed order that native backends may use as op codes. */
export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'and',
  'or',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export type ReduceOp = 'sum' | 'prod' | 'max' | 'min';

/** How `random` fills a buffer; see `random/philox.ts` for the exact, backend-independent definition. */
export type RandomSpec =
  | { readonly kind: 'uniform'; readonly low: number; readonly high: number }
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  | { readonly kind: 'bernoulli'; readonly p: number }
  | { readonly kind: 'randint'; readonly low: number; readonly high: number };

/** Geometry of an N-d convolution (N = kernel.length), shared by im2col and col2im. */
export interface ConvGeometry {
  readonly kernel: readonly number[];
  readonly stride: readonly number[];
  readonly padding: readonly number[];
  readonly dilation: readonly number[];
  /** Output spatial size. */
  readonly outSpatial: readonly number[];
}

/**
 * The backend contract: every op in lorakit is built from these kernels. Inputs arrive as strided views
 * (broadcast dims have stride 0); every kernel returns a fresh, contiguous storage in logical
 * (row-major) order, except `assign`, the one kernel that writes into existing memory.
 *
 * All validation, defaults and broadcasting happen in TypeScript before a kernel is called; kernels may
 * assume their arguments are consistent.
 */
export interface Kernels<S = unknown> {
  // ── memory and host transfer ──────────────────────────────────────────────
  /** Copies host data in (the only way data enters a backend). */
  fromHost(data: HostArray, dtype: Dtype): S;
  /** Copies a view out to the host, in logical order (the only way data leaves a backend). */
  toHost(x: View<S>): HostArray;
  /** Releases memory early; the storage must not be used afterwards. */
  dispose(storage: S): void;

  // ── creation ──────────────────────────────────────────────────────────────
  full(dtype: Dtype, size: number, value: number): S;
  /** start, start + step, … (size elements). */
  arange(dtype: Dtype, start: number, step: number, size: number): S;
  /**
   * Counter-based random numbers: element values depend only on (key, counter, index), so every backend
   * produces the same numbers (see `random/philox.ts`).
   */
  random(dtype: Dtype, size: number, spec: RandomSpec, key: readonly [number, number], counter: number): S;

  // ── copies ────────────────────────────────────────────────────────────────
  /** Contiguous copy, converting to `dtype`. */
  copy(x: View<S>, dtype: Dtype): S;
  /** Writes `src` (already broadcast to dst's shape) into `dst`, converting dtype. */
  assign(dst: View<S>, src: View<S>): void;

  // ── elementwise ───────────────────────────────────────────────────────────
  unary(op: UnaryOp, x: View<S>, outDtype: Dtype, params?: readonly number[]): S;
  /** `a` and `b` have the same shape (broadcast already applied through strides). */
  binary(op: BinaryOp, a: View<S>, b: View<S>, outDtype: Dtype): S;
  where(condition: View<S>, a: View<S>, b: View<S>, outDtype: Dtype): S;

  // ── reductions ────────────────────────────────────────────────────────────
  /** Reduces over `axes` (sorted, distinct); the output drops those axes. */
  reduce(op: ReduceOp, x: View<S>, axes: readonly number[], outDtype: Dtype): S;
  /** Index of the max/min along `axis` (first occurrence), int64, axis dropped. */
  argReduce(op: 'argmax' | 'argmin', x: View<S>, axis: number): S;
  /** Fused, numerically stable softmax or log-softmax along `axis`. */
  softmax(x: View<S>, axis: number, log: boolean): S;

  // ── matrix products ───────────────────────────────────────────────────────
  /** a: [...batch, m, k], b: [...batch, k, n] with equal batch shapes (broadcast through strides). */
  matmul(a: View<S>, b: View<S>, outDtype: Dtype): S;

  // ── indexing ──────────────────────────────────────────────────────────────
  /** out[i][j][k] = x[index[i][j][k]][j][k] for axis 0, etc. Output has the index's shape. */
  gather(x: View<S>, axis: number, index: View<S>): S;
  /** zeros(shape) then out[index[i][j]][j] += src[i][j] for axis 0, etc. */
  scatterAdd(shape: Shape, dtype: Dtype, axis: number, index: View<S>, src: View<S>): S;
  /** Rows (slices along `axis`) of x picked by a 1-D index. */
  indexSelect(x: View<S>, axis: number, index: View<S>): S;
  /** zeros(shape) then slice `index[i]` along `axis` += slice i of src (embedding backward). */
  indexAdd(shape: Shape, dtype: Dtype, axis: number, index: View<S>, src: View<S>): S;

  // ── sorting ───────────────────────────────────────────────────────────────
  /** Stable sort along `axis`; indices are int64. NaN sorts as the largest value. */
  sort(x: View<S>, axis: number, descending: boolean): { values: S; indices: S };

  // ── convolution ───────────────────────────────────────────────────────────
  /** x [N, C, ...spatial] → columns [N, C·∏kernel, ∏outSpatial]. */
  im2col(x: View<S>, geometry: ConvGeometry): S;
  /** The adjoint of im2col: columns [N, C·∏kernel, ∏outSpatial] → [N, C, ...inputSpatial], summing overlaps. */
  col2im(columns: View<S>, geometry: ConvGeometry, inputShape: Shape): S;

  // ── dense linear algebra (2-D; computed in float64, returned in x's dtype) ──
  /** Thin (full = false) or full SVD; singular values descending. */
  svd(x: View<S>, full: boolean): { u: S; s: S; vh: S };
  /** Reduced QR of an m×n matrix: q [m, min(m,n)], r [min(m,n), n]. */
  qr(x: View<S>): { q: S; r: S };
  /** Symmetric eigendecomposition: values ascending, vectors as columns. */
  eigh(x: View<S>): { values: S; vectors: S };
}

/**
 * Optional fused kernels. Ops use them when a backend provides them and compose the same math from the
 * required kernels otherwise; the composed version is the reference the fused one is tested against.
 */
export interface FusedKernels<S = unknown> {
  /**
   * RMS normalization over the last dim: out = x · rstd · weight, rstd = 1/sqrt(mean(x²) + eps), per
   * row. Returns rstd [rows] for backward. float32 only.
   */
  rmsNorm?(x: View<S>, weight: View<S> | null, eps: number): { out: S; rstd: S };
  /**
   * The x-gradient of {@link FusedKernels.rmsNorm} in one pass per row, for the incoming gradient `grad`
   * and the saved rstd [rows] (float32 for 16-bit x): `dx = (g·w − x·k)·rstd`, k = rstd²·mean(g·w·x),
   * computed in float64 and rounded once to x's dtype (the op composes it when a backend lacks it). Any
   * float dtype the backend's rmsNorm takes.
   */
  rmsNormBackward?(grad: View<S>, x: View<S>, weight: View<S> | null, rstd: View<S>): S;
  /** LayerNorm over the last dim: out = (x − mean) · rstd · weight + bias; mean, rstd [rows]. float32 only. */
  layerNorm?(
    x: View<S>,
    weight: View<S> | null,
    bias: View<S> | null,
    eps: number,
  ): { out: S; mean: S; rstd: S };
  /**
   * The LoRA linear forward `x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ` reading x once; x [rows, in], W [out, in],
   * A [r, in], B [out, r]. Returns the output and h = x·Aᵀ [rows, r] (saved for backward). float32 only.
   */
  loraLinear?(
    x: View<S>,
    weight: View<S>,
    bias: View<S> | null,
    a: View<S>,
    b: View<S>,
    scale: number,
  ): { out: S; hidden: S };
  /**
   * `round(base + scale·(h·m))` in base's dtype, [rows, N] contiguous: the LoRA branch of a 16-bit
   * layer with float32 factors (PEFT's `autocast_adapter_dtype`) added to the layer's output in one
   * pass. base [rows, N] is float16 or bfloat16 (any strides); h [rows, r] and m [r, N] are float32.
   * The term is computed in float32 — the products summed over j in order, then times `scale` — and
   * added to base widened exactly, with one rounding; with `roundTerm` the term is first rounded to
   * base's dtype (the sum of two 16-bit gradients). Returns null for inputs it does not take (other
   * dtypes, r too large): the op then composes the same math.
   */
  loraExpand?(base: View<S>, h: View<S>, m: View<S>, scale: number, roundTerm: boolean): S | null;
  /**
   * `scatterAdd` into existing memory: dst[index[i][j]][j] += src[i][j] for axis 0, etc. (index and src
   * of one shape, dst of any strides; float32 or float64). Like `assign`, it writes in place; ops use it
   * only on tensors they have just created. Without it, ops compose `scatterAdd` and `add`.
   */
  scatterAddInPlace?(dst: View<S>, axis: number, index: View<S>, src: View<S>): void;
  /**
   * Rotary position embedding in the `rotate_half` layout (see `rotary` in ops/rotary.ts). With
   * h = D/2 (D, x's last dim, is even) and j < h, per row of the last dim:
   *
   * ```
   * forward     out[j] = x[j]·c[j] − x[j+h]·s[j]     out[j+h] = x[j+h]·c[j+h] + x[j]·s[j+h]
   * transposed  out[j] = x[j]·c[j] + x[j+h]·s[j+h]   out[j+h] = x[j+h]·c[j+h] − x[j]·s[j]
   * ```
   *
   * The transposed rotation (by the opposite angle) is the gradient with respect to x. cos and sin
   * arrive broadcast to x's shape (stride 0 on broadcast dims); x, cos and sin share one dtype, float32
   * or float64. Each product and the sum are rounded to the dtype: the values of the composed forward
   * and `rotaryTransposed`, up to the contraction of a product and the sum into one FMA.
   */
  rotary?(x: View<S>, cos: View<S>, sin: View<S>, transposed: boolean): S;
  /**
   * The SwiGLU activation `silu(gate)·up` (Shazeer 2020), gate and up broadcast to one shape (stride 0
   * on broadcast dims), one dtype, float32 or float64.
   */
  swiglu?(gate: View<S>, up: View<S>): S;
  /**
   * Both gradients of `silu(gate)·up` in one pass, for the incoming gradient `grad` of the output's
   * shape (gate and up broadcast to it):
   *
   * ```
   * dGate = grad·up·σ(gate)·(1 + gate·(1 − σ(gate)))      dUp = grad·silu(gate)
   * ```
   *
   * `needs` says which of (dGate, dUp) to compute; the other comes back null and costs nothing. Outputs
   * have grad's shape (the op sums them down to broadcast inputs).
   */
  swigluBackward?(
    grad: View<S>,
    gate: View<S>,
    up: View<S>,
    needs: readonly [boolean, boolean],
  ): { gate: S | null; up: S | null };
  /**
   * The softmax of scaled dot-product attention over scores x [B, H, queries, keys] (float32 or
   * float64), row by row: `softmax(scale·x + bias)` over the keys a query may see — all of them, or
   * with `causal` keys 0 … keys − queries + i for query i — and exactly 0 for the others. `bias` is
   * broadcast to x's shape (stride 0 on broadcast dims). Returns contiguous probabilities.
   */
  attentionSoftmax?(x: View<S>, scale: number, bias: View<S> | null, causal: boolean): S;
  /**
   * Its gradient with respect to x for the incoming gradient `grad` of the probabilities `probs` (both
   * [B, H, queries, keys]): `scale · p ∘ (g − Σⱼ gⱼ·pⱼ)` per row. Contiguous output.
   */
  attentionSoftmaxBackward?(grad: View<S>, probs: View<S>, scale: number): S;
  /**
   * Attention without the scores: `softmax(scale·q·kᵀ + mask)·v` computed block by block (FlashAttention-2,
   * Dao 2023), never materializing a [B, H, queries, keys] tensor. q [B, H, T, D], k [B, KVH, S, D],
   * v [B, KVH, S, D] with H a multiple of KVH (query head h reads key/value head ⌊h / (H/KVH)⌋), any
   * strides, one dtype. Which keys query i (0 … T − 1, at absolute position S − T + i) may see:
   *
   * - all S keys, or with `causal` keys j ≤ S − T + i;
   * - with `window` w (causal only) also j > S − T + i − w (Mistral's sliding window);
   * - with `keyMask` [B, S] (bool, nonzero = a real token) only keys whose mask is set (padding).
   *
   * A row that sees no key at all gets output 0 (PyTorch's SDPA) and logsumexp −∞. Returns the output
   * [B, H, T, D] contiguous in q's dtype and the per-row log-sum-exp of the scaled, masked scores
   * [B, H, T] in float32 (for backward), or null when the kernel does not handle these inputs (dtype,
   * head size, …): the op then composes the reference.
   */
  flashAttention?(
    q: View<S>,
    k: View<S>,
    v: View<S>,
    keyMask: View<S> | null,
    options: FlashAttentionOptions,
  ): { out: S; logsumexp: S } | null;
  /**
   * The gradients of {@link FusedKernels.flashAttention} for the incoming gradient `grad` [B, H, T, D]
   * from its inputs, its output and its logsumexp, recomputing the probabilities block by block.
   * Returns dq [B, H, T, D], dk and dv [B, KVH, S, D] (summed over each group's query heads), each
   * contiguous in q's dtype. Only called with inputs the forward accepted.
   */
  flashAttentionBackward?(
    grad: View<S>,
    q: View<S>,
    k: View<S>,
    v: View<S>,
    out: View<S>,
    logsumexp: View<S>,
    keyMask: View<S> | null,
    options: FlashAttentionOptions,
  ): { dq: S; dk: S; dv: S };
  /**
   * When true, `rmsNorm`, `layerNorm`, `rotary`, `swiglu`, `swigluBackward` and
   * `softmaxCrossEntropyBackward` also take float16 and bfloat16 views (every input of one dtype): they
   * compute in float32 and round each output to the input dtype once, as PyTorch's fused CUDA kernels do
   * (rmsNorm/layerNorm return rstd and mean in float32). Without it, ops compose 16-bit inputs from
   * required kernels.
   */
  readonly fusedHalfPrecision?: boolean;
  /**
   * The gradient of softmax cross-entropy with respect to the scores in one pass: for the saved
   * log-probabilities [N, C], the incoming gradient of each row's loss `grad` [N] and the targets
   * `target` [N, 1] (int64, in range), `exp(logProbs)·grad − onehot(target)·grad` [N, C], contiguous,
   * with the values of the composed ops (exp, product, subtraction at the target, each rounded to the
   * dtype). float32 or float64.
   */
  softmaxCrossEntropyBackward?(logProbs: View<S>, grad: View<S>, target: View<S>): S;
  /**
   * One AdamW update of a parameter, written in place into `param`, `expAvg`, `expAvgSq` (and
   * `maxExpAvgSq` with AMSGrad) — the second kernel besides `assign` that writes into existing memory.
   * All views are contiguous with the same shape and dtype (float32 or float64). It must give exactly
   * the values of `adamwStepComposed` (ops/optimizer.ts): the same operations in the same order, each
   * rounded to the dtype. Backends without it (the native cpu backend inherits the JS one) use that
   * composition of elementwise kernels.
   */
  adamwStep?(
    param: View<S>,
    grad: View<S>,
    expAvg: View<S>,
    expAvgSq: View<S>,
    maxExpAvgSq: View<S> | null,
    options: AdamWStepOptions,
  ): void;
  /**
   * {@link FusedKernels.adamwStep} for several parameters in few launches (multi-tensor AdamW): every
   * item as `adamwStep` would update it, with the same values bit for bit. All items share one dtype
   * (float32 or float64) and the options (one step count); each item's views are contiguous with one
   * shape. Without it, the op calls `adamwStep` per parameter.
   */
  adamwStepMulti?(items: readonly AdamWTensors<View<S>>[], options: AdamWStepOptions): void;
  /**
   * Checks on the device that every value of an integer index (int64 or int32, any shape and strides)
   * lies in `[check.low, check.high)` or equals `check.allowed`, without reading it to the host. Ops
   * call it instead of their host bounds check when a backend has it; backends whose data is on the
   * host (js, cpu) leave it out, and the op reads the index and throws at once.
   *
   * Contract:
   * - It is enqueued like any kernel and returns nothing; it never synchronizes.
   * - When a value fails, the backend remembers one failing value `v` (which one is unspecified
   *   when several fail; the opaque test backend takes the first in logical order) and, at its next
   *   `toHost`, throws `check.error(v)` instead of returning data. With several failed checks
   *   pending, the one enqueued first is thrown. That `toHost` also forgets every check enqueued
   *   before it, failed or not, so the calls after it work again. A backend may throw sooner (a
   *   mode that synchronizes after every launch, for debugging).
   * - `check.error` is a host function: call it on the host, at that `toHost`, with the value as a
   *   number (int64 values are indices, exact as numbers).
   * - An empty index passes.
   * - The kernels that consume the index (gather, indexSelect, scatterAdd, indexAdd,
   *   scatterAddInPlace, softmaxCrossEntropyBackward, …) may run before the error surfaces, so they
   *   must stay memory-safe for out-of-range values (skip or clamp them); what they compute from such
   *   values is unspecified and is thrown away with the error.
   */
  checkIndexBounds?(index: View<S>, check: IndexBoundsCheck): void;
  /**
   * Lookup-table dequantization of 4-bit codes, as bitsandbytes' `dequantize_4bit` (NF4 or FP4,
   * without double quantization) computes it. Inputs, all 1-D with stride 1 and any offset (the op
   * makes them so):
   *
   * - `packed`: int32 words holding the code bytes little-endian, two codes per byte, ⌈size/8⌉
   *   words. Byte k is `(packed[k >> 2] >>> (8·(k & 3))) & 0xff`; element i's code is the high nibble
   *   of byte i >> 1 when i is even, the low nibble when i is odd. Bits past element size − 1 are
   *   ignored.
   * - `absmax`: float32, one scale per block of `blocksize` consecutive elements, ⌈size/blocksize⌉
   *   values (a partial last block has its own). `blocksize` is a positive even integer, so a byte
   *   never straddles two blocks.
   * - `codebook`: float32 [16], the value of each code.
   *
   * Returns a contiguous [size] storage of `outDtype` (a float dtype):
   * `out[i] = round_outDtype(fl32(codebook[code(i)] · absmax[⌊i / blocksize⌋]))` — one float32
   * product, correctly rounded, then one rounding to `outDtype` (nearest even; exact for float64).
   * Without it, ops compose the same values from required kernels (`dequantize4bitComposed`).
   */
  dequantize4bit?(
    packed: View<S>,
    absmax: View<S>,
    codebook: View<S>,
    size: number,
    blocksize: number,
    outDtype: Dtype,
  ): S;
  /**
   * Row-wise int8 dequantization, as bitsandbytes' `int8_vectorwise_dequant` computes it. Inputs, all
   * 1-D with stride 1 and any offset (the op makes them so):
   *
   * - `codes`: int32 words holding one signed byte per element little-endian, row-major
   *   [rows, columns], ⌈rows·columns/4⌉ words. Byte k is `(codes[k >> 2] >>> (8·(k & 3))) & 0xff`,
   *   read as two's complement (128…255 stand for −128…−1). Bytes past rows·columns are ignored.
   * - `absmax`: float32 [rows], one scale per row.
   * - `scale`: a float32 value (the op rounds it to float32 first).
   *
   * Returns a contiguous [rows·columns] storage of `outDtype` (a float dtype):
   * `out[r·columns + j] = round_outDtype(fl32(fl32(q[r, j] · absmax[r]) · scale))` — two float32
   * products, each correctly rounded (no FMA contraction), then one rounding to `outDtype`.
   * Without it, ops compose the same values from required kernels (`dequantizeInt8Composed`).
   */
  dequantizeInt8?(
    codes: View<S>,
    absmax: View<S>,
    rows: number,
    columns: number,
    scale: number,
    outDtype: Dtype,
  ): S;
}

/**
 * A device-side bounds check of integer indices (see {@link FusedKernels.checkIndexBounds}): valid
 * values are `low ≤ v < high`, and `allowed` when given.
 */
export interface IndexBoundsCheck {
  /** The smallest valid value. */
  readonly low: number;
  /** One past the largest valid value. */
  readonly high: number;
  /** One more value that passes although outside [low, high) (crossEntropy's ignore_index). */
  readonly allowed?: number;
  /** The error for a failing value, made on the host when the failure surfaces (the op's message). */
  readonly error: (value: number) => Error;
}

/** Which keys a query sees in {@link FusedKernels.flashAttention}. */
export interface FlashAttentionOptions {
  /** Multiplies q·kᵀ before the softmax (usually 1/√headDim). */
  readonly scale: number;
  /** Query i (of T) sees keys j ≤ S − T + i only. */
  readonly causal: boolean;
  /** With `causal`: query i also sees only keys j > S − T + i − window (null: no window). */
  readonly window: number | null;
}

/** The tensors (or views) of one parameter's AdamW update. */
export interface AdamWTensors<T> {
  readonly param: T;
  readonly grad: T;
  readonly expAvg: T;
  readonly expAvgSq: T;
  /** With AMSGrad, else null. */
  readonly maxExpAvgSq: T | null;
}

/** Hyperparameters of one AdamW update (see {@link FusedKernels.adamwStep}). */
export interface AdamWStepOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** The step count after this update (1 for the first). */
  readonly step: number;
}

/** A named set of kernels. Storage type `S` is opaque to everything but the backend itself. */
export interface Backend<S = unknown> extends Kernels<S>, FusedKernels<S> {
  readonly name: string;
}
