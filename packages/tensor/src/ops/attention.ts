import { noGrad } from '../autograd/grad-mode.js';
import type { GradContext } from '../autograd/gradients.js';
import { record } from '../autograd/node.js';
import { type Dtype, isFloating, promoteTypes } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, commonBackend, wrap } from './core.js';
import { arange } from './creation.js';
import { where } from './elementwise.js';
import { sumToShape } from './view.js';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** Multiplies q·kᵀ before the softmax (usually 1/√headDim). */
  readonly scale: number;
  /** An additive bias broadcast to the scores [B, H, T, S] (0 for allowed, a large negative for masked). */
  readonly bias?: Tensor | null;
  /**
   * Query i (of T) attends to keys 0 … S − T + i only: the queries are the last T positions of the S
   * keys, as with a KV cache holding S − T earlier ones. Needs S ≥ T.
   */
  readonly causal?: boolean;
  /**
   * With `causal`, query i also sees only keys j > S − T + i − window (Mistral's and Qwen2's sliding
   * window): a positive integer, or null for none.
   */
  readonly window?: number | null;
  /**
   * [B, S] bool, true for a real token: masked keys (padding) are seen by no query. A query row left
   * without any key (left padding under a causal mask) gets output 0 and zero gradients, as PyTorch's
   * scaled_dot_product_attention returns.
   */
  readonly keyMask?: Tensor | null;
}

function check(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions, anyFloat = false): number {
  const op = 'scaledDotProductAttention';
  for (const [name, t] of [
    ['q', q],
    ['k', k],
    ['v', v],
  ] as const) {
    if (t.rank !== 4) {
      throw new ShapeError(
        `[${op}] ${name} must be [batch, heads, length, headDim], received ${fmtShape(t.shape)}`,
      );
    }
    const computable = anyFloat ? isFloating(t.dtype) : t.dtype === 'float32' || t.dtype === 'float64';
    if (t.dtype !== q.dtype || !computable) {
      throw new DtypeError(
        `[${op}] q, k and v must be floating point (float32, float64, float16 or bfloat16), received ${q.dtype}, ${k.dtype} and ${v.dtype}`,
      );
    }
  }
  const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
  if (
    k.shape[0] !== batch ||
    k.shape[3] !== headDim ||
    !shapesEqual(v.shape.slice(0, 3), k.shape.slice(0, 3))
  ) {
    throw new ShapeError(
      `[${op}] k must be [${batch}, kvHeads, keys, ${headDim}] like q ${fmtShape(q.shape)} and v [${batch}, kvHeads, keys, valueDim] like k, received k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)}`,
    );
  }
  const kvHeads = k.shape[1]!;
  const keys = k.shape[2]!;
  if (kvHeads === 0 || heads % kvHeads !== 0) {
    throw new ShapeError(`[${op}] ${heads} query heads cannot share ${kvHeads} key/value heads`);
  }
  if (!Number.isFinite(options.scale)) {
    throw new ShapeError(`[${op}] scale must be a finite number, received ${options.scale}`);
  }
  if (options.causal && keys < queries) {
    throw new ShapeError(
      `[${op}] causal attention needs at least as many keys as queries, received ${keys} keys for ${queries} queries`,
    );
  }
  const bias = options.bias;
  if (bias) {
    const scores = [batch, heads, queries, keys];
    if (bias.rank > 4 || !shapesEqual(broadcastShapes(op, scores, bias.shape), scores)) {
      throw new ShapeError(
        `[${op}] bias ${fmtShape(bias.shape)} must broadcast to the scores ${fmtShape(scores)}`,
      );
    }
    if (bias.dtype !== q.dtype) {
      throw new DtypeError(`[${op}] bias must have q's dtype ${q.dtype}, received ${bias.dtype}`);
    }
  }
  const window = options.window ?? null;
  if (window !== null && (!Number.isInteger(window) || window < 1)) {
    throw new ShapeError(`[${op}] window must be a positive integer or null, received ${window}`);
  }
  if (window !== null && !options.causal) {
    throw new ShapeError(
      `[${op}] window ${window} needs causal attention (a sliding window limits how far back a query sees)`,
    );
  }
  const keyMask = options.keyMask;
  if (keyMask) {
    if (keyMask.rank !== 2 || keyMask.shape[0] !== batch || keyMask.shape[1] !== keys) {
      throw new ShapeError(
        `[${op}] keyMask must be [batch, keys] = [${batch}, ${keys}], received ${fmtShape(keyMask.shape)}`,
      );
    }
    if (keyMask.dtype !== 'bool') {
      throw new DtypeError(`[${op}] keyMask must be a bool tensor, received ${keyMask.dtype}`);
    }
  }
  const all = [q, k, v];
  if (bias) all.push(bias);
  if (keyMask) all.push(keyMask);
  commonBackend(op, all);
  return heads / kvHeads;
}

/**
 * Stacks the query heads of each key/value group along the sequence: [B, H, T, X] → [B, KVH, G·T, X],
 * so one product per group reads the shared keys (grouped-query attention without repeating k and v).
 */
function stacked(x: Tensor, kvHeads: number): Tensor {
  const [batch, heads, length, width] = x.shape as [number, number, number, number];
  if (heads === kvHeads) return x;
  return x.reshape(batch, kvHeads, (heads / kvHeads) * length, width);
}

/**
 * softmax(q·kᵀ·scale + bias)·v for q [B, H, T, D], k [B, KVH, S, D] and v [B, KVH, S, Dv], H a multiple of KVH
 * (query head h reads key/value head ⌊h / (H/KVH)⌋), optionally causal, windowed or with padded keys
 * (see {@link AttentionOptions}).
 *
 * With a backend `flashAttention` kernel that takes the inputs (on cuda: float16/bfloat16, head size 64
 * or 128, no bias) it is one recorded op that never materializes the scores, kept in the inputs' dtype,
 * whose backward recomputes them from the saved log-sum-exp (FlashAttention-2).
 *
 * With a backend that has the `attentionSoftmax` kernels (the JS reference and the cpu backend) it is one
 * recorded op: two batched products around one fused pass that scales, biases, masks and normalizes the
 * scores in place of four, and a backward that computes the scores' gradient in one pass from the saved
 * probabilities. Otherwise it composes differentiable ops ({@link scaledDotProductAttentionComposed},
 * the reference).
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
): Tensor {
  const flash = flashAttention(q, k, v, options);
  if (flash) return flash;
  const widened = inComputeDtype(q, k, v, options);
  if (widened) return widened;
  const groups = check(q, k, v, options);
  if (options.keyMask || options.window != null) {
    return maskedAsBias(q, k, v, options, scaledDotProductAttention);
  }
  const backend = q.backend;
  const kernel = backend.attentionSoftmax;
  if (!kernel || !backend.attentionSoftmaxBackward) return composed(q, k, v, options, groups);
  const [batch, heads, queries] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1]!;
  const keys = k.shape[2]!;
  const bias = options.bias ?? null;
  const { out, probs } = noGrad(() => {
    const product = stacked(q, kvHeads).matmul(k.transpose(-2, -1));
    const scores = product.reshape(batch, heads, queries, keys);
    const shape = [batch, heads, queries, keys];
    const p = wrap(
      backend,
      kernel(scores.view(), options.scale, bias ? broadcastView(bias, shape) : null, options.causal ?? false),
      q.dtype,
      shape,
    );
    scores.dispose();
    product.dispose();
    const o = stacked(p, kvHeads).matmul(v).reshape(batch, heads, queries, v.shape[3]!);
    return { out: o, probs: p };
  });
  const inputs = bias ? [q, k, v, bias] : [q, k, v];
  return record('scaledDotProductAttention', inputs, out, { scale: options.scale, kvHeads }, [probs]);
}

/**
 * The backend's `flashAttention` kernel (FlashAttention-2) when it has one and takes these inputs: one
 * recorded op that saves only the output and the per-row log-sum-exp, on q, k and v in their own dtype
 * (16-bit inputs are not widened). Undefined when there is no such kernel, a bias is given, or the
 * kernel declines (dtype, head size, …).
 */
function flashAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor | undefined {
  const backend = q.backend;
  if (!backend.flashAttention || !backend.flashAttentionBackward || options.bias) return undefined;
  if (k.dtype !== q.dtype || v.dtype !== q.dtype || !isFloating(q.dtype)) return undefined;
  check(q, k, v, options, true);
  if (v.shape[3] !== q.shape[3]) return undefined;
  const keyMask = options.keyMask ?? null;
  const attrs = { scale: options.scale, causal: options.causal ?? false, window: options.window ?? null };
  const result = backend.flashAttention(q.view(), k.view(), v.view(), keyMask?.view() ?? null, attrs);
  if (!result) return undefined;
  const [batch, heads, queries] = q.shape as [number, number, number, number];
  const out = wrap(backend, result.out, q.dtype, q.shape);
  const logsumexp = wrap(backend, result.logsumexp, 'float32', [batch, heads, queries]);
  const saved = keyMask ? [out, logsumexp, keyMask] : [out, logsumexp];
  return record('scaledDotProductAttention', [q, k, v], out, { ...attrs, flash: true }, saved);
}

/** The gradients of the flash path from the saved output and log-sum-exp (the backend's kernel). */
function flashAttentionBackward(ctx: GradContext): (Tensor | null)[] {
  const { grad, inputs, saved, needs, attrs } = ctx;
  const [q, k, v] = inputs as [Tensor, Tensor, Tensor];
  const [out, logsumexp, keyMask] = saved as [Tensor, Tensor, Tensor | undefined];
  const backend = q.backend;
  const options = {
    scale: attrs.scale as number,
    causal: attrs.causal as boolean,
    window: attrs.window as number | null,
  };
  const g = grad.dtype === q.dtype ? grad : grad.cast(q.dtype);
  const result = backend.flashAttentionBackward!(
    g.view(),
    q.view(),
    k.view(),
    v.view(),
    out.view(),
    logsumexp.view(),
    keyMask?.view() ?? null,
    options,
  );
  const take = (storage: unknown, like: Tensor, need: boolean | undefined): Tensor | null => {
    const t = wrap(backend, storage, q.dtype, like.shape);
    if (need) return t;
    t.dispose();
    return null;
  };
  return [take(result.dq, q, needs[0]), take(result.dk, k, needs[1]), take(result.dv, v, needs[2])];
}

/** Below every score yet finite: a user bias of float32's minimum added to it stays finite. */
const MASKED_BIAS = -1e30;

/**
 * `keyMask` and `window` for paths without the flash kernel: an additive bias over the keys each query
 * may not see, and rows left with no key at all (left padding) multiplied by 0.
 */
function maskedAsBias(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
  attend: (q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions) => Tensor,
): Tensor {
  const [batch, , queries] = q.shape as [number, number, number, number];
  const keys = k.shape[2]!;
  const on = { backend: q.backend.name };
  const row = arange(keys - queries, keys, 1, on).reshape(1, 1, queries, 1);
  const column = arange(0, keys, 1, on).reshape(1, 1, 1, keys);
  const window = options.window ?? null;
  const keyMask = options.keyMask ?? null;
  const padding = keyMask ? keyMask.reshape(batch, 1, 1, keys) : null;
  const inWindow = window === null ? null : column.gt(row.sub(window));
  const allowed = padding && inWindow ? padding.logicalAnd(inWindow) : (padding ?? inWindow)!;
  const maskBias = where(allowed, 0, MASKED_BIAS).cast(q.dtype);
  const bias = options.bias ? options.bias.add(maskBias) : maskBias;
  const out = attend(q, k, v, { scale: options.scale, bias, causal: options.causal ?? false });
  if (!padding) return out;
  const seen = options.causal ? allowed.logicalAnd(column.le(row)) : allowed;
  return out.mul(seen.any(-1, true).cast(out.dtype));
}

/**
 * 16-bit or mixed float inputs (a bfloat16 model whose q and k come out of float32 rotary tables) are
 * computed in float32 — float64 if any input is — as PyTorch computes half-precision softmax in float32;
 * the output takes the inputs' promoted dtype (bfloat16 when all three are). The casts are differentiable.
 * Undefined when the inputs already share float32 or float64, or are not all floats (check() says why).
 */
function inComputeDtype(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor | undefined {
  const dtypes = [q.dtype, k.dtype, v.dtype];
  if (dtypes.every((d) => d === q.dtype) && (q.dtype === 'float32' || q.dtype === 'float64'))
    return undefined;
  if (!dtypes.every(isFloating)) return undefined;
  const compute = dtypes.includes('float64') ? 'float64' : 'float32';
  const bias = options.bias && isFloating(options.bias.dtype) ? options.bias.cast(compute) : options.bias;
  const out = scaledDotProductAttention(q.cast(compute), k.cast(compute), v.cast(compute), {
    ...options,
    bias,
  });
  const target = dtypes.reduce<Dtype>((a, b) => promoteTypes(a, b), dtypes[0]!);
  return target === compute ? out : out.cast(target);
}

/** The gradients of {@link scaledDotProductAttention} for q, k, v (and the bias) from the saved probabilities. */
export function scaledDotProductAttentionBackward(ctx: GradContext): (Tensor | null)[] {
  if (ctx.attrs.flash) return flashAttentionBackward(ctx);
  const { grad, inputs, saved, needs, attrs } = ctx;
  const [q, k, v, bias] = inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const probs = saved[0]!;
  const scale = attrs.scale as number;
  const kvHeads = attrs.kvHeads as number;
  const [batch, heads, queries, headDim] = q.shape as [number, number, number, number];
  const keys = k.shape[2]!;
  const backend = q.backend;
  const g = stacked(grad, kvHeads);
  const p = stacked(probs, kvHeads);
  // Summing over a group's stacked rows gives the key/value heads' gradients directly.
  const dv = needs[2] ? p.transpose(-2, -1).matmul(g) : null;
  const needScores = needs[0] || needs[1] || (bias !== undefined && needs[3]);
  if (!needScores) return [null, null, dv, null];
  const dProbs = g.matmul(v.transpose(-2, -1)).reshape(batch, heads, queries, keys);
  const softmaxBackward = (s: number) =>
    wrap(backend, backend.attentionSoftmaxBackward!(dProbs.view(), probs.view(), s), q.dtype, dProbs.shape);
  // The bias enters unscaled: its gradient is the softmax's input gradient with scale 1.
  const dBias = bias && needs[3] ? sumToShape(softmaxBackward(1), bias.shape) : null;
  if (!needs[0] && !needs[1]) return [null, null, dv, dBias];
  const ds = stacked(softmaxBackward(scale), kvHeads);
  const dq = needs[0] ? ds.matmul(k).reshape(batch, heads, queries, headDim) : null;
  const dk = needs[1] ? ds.transpose(-2, -1).matmul(stacked(q, kvHeads)) : null;
  return [dq, dk, dv, dBias];
}

function composed(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions, groups: number): Tensor {
  const [batch, heads, queries] = q.shape as [number, number, number, number];
  const kvHeads = k.shape[1]!;
  const keys = k.shape[2]!;
  let scores = stacked(q, kvHeads)
    .matmul(k.transpose(-2, -1))
    .reshape(batch, heads, queries, keys)
    .mul(options.scale);
  if (options.bias) scores = scores.add(options.bias);
  if (options.causal) {
    const row = arange(keys - queries, keys, 1, { backend: q.backend.name }).reshape(queries, 1);
    const column = arange(0, keys, 1, { backend: q.backend.name }).reshape(1, keys);
    scores = where(column.le(row), scores, Number.NEGATIVE_INFINITY);
  }
  const probs = scores.softmax(-1);
  const out = stacked(probs, kvHeads).matmul(v);
  return groups === 1 ? out : out.reshape(batch, heads, queries, v.shape[3]!);
}

/** {@link scaledDotProductAttention} composed from differentiable ops: the reference for the fused path. */
export function scaledDotProductAttentionComposed(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions,
): Tensor {
  const groups = check(q, k, v, options);
  if (options.keyMask || options.window != null) {
    return maskedAsBias(q, k, v, options, scaledDotProductAttentionComposed);
  }
  return composed(q, k, v, options, groups);
}
