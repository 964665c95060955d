import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import type { GradContext } from '../autograd/gradients.js';
import { record } from '../autograd/node.js';
import { type Dtype, type FloatDtype, isFloating, promoteTypes } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError, TensorError } from '../errors.js';
import { tidy } from '../storage.js';
import type { Tensor } from '../tensor.js';
import { assertTensor, commonBackend, wrap } from './core.js';
import { ones, zeros } from './creation.js';
import { where } from './elementwise.js';
import { scatterAddInPlace } from './indexing.js';
import { matmul } from './matmul.js';
import { checkTargets } from './nn.js';
import { cat } from './view.js';

/** Options of {@link linearCrossEntropy}. */
export interface LinearCrossEntropyOptions {
  /** Bias of the head, [vocab] (GPT-J's `lm_head` has one). */
  readonly bias?: Tensor | null;
  /** Targets equal to this are skipped (PyTorch's default -100). */
  readonly ignoreIndex?: number;
  /** 'mean' divides by the number of non-ignored targets (NaN when all are ignored), as PyTorch. */
  readonly reduction?: 'mean' | 'sum' | 'none';
  /** Rows of logits computed at a time (default {@link linearCrossEntropyChunkRows}). */
  readonly chunkRows?: number;
  /** Gemma 2's final soft-capping: logits become `softcap·tanh(logits / softcap)` before the loss. */
  readonly softcap?: number | null;
}

/** The memory one chunk's logits may take in the loss dtype by default: 256 MiB. */
export const LINEAR_CROSS_ENTROPY_CHUNK_BYTES = 256 * 2 ** 20;

/**
 * The default rows per chunk of {@link linearCrossEntropy}: as many as keep one chunk's logits in the
 * loss dtype (4 bytes, 8 for float64) within {@link LINEAR_CROSS_ENTROPY_CHUNK_BYTES}, rounded down
 * to a multiple of 64 (GEMM tiles) when at least 64. For a 151,936-token vocabulary in float32: 384
 * rows, 223 MiB of logits.
 */
export function linearCrossEntropyChunkRows(vocab: number, lossDtype: FloatDtype = 'float32'): number {
  const rows = Math.floor(LINEAR_CROSS_ENTROPY_CHUNK_BYTES / (vocab * (lossDtype === 'float64' ? 8 : 4)));
  return rows >= 64 ? rows - (rows % 64) : Math.max(1, rows);
}

/** The head a chunk's logits come from, and how the loss treats them. */
interface Head {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly softcap: number | null;
  /** Dtype of the product (the promoted dtype of hidden, weight and bias). */
  readonly computeDtype: FloatDtype;
  /** float32, or float64 when the product is float64 (the upcast never lowers precision). */
  readonly lossDtype: FloatDtype;
}

/**
 * Cross-entropy of `hidden·weightᵀ (+ bias)` against `target`, as
 * `crossEntropy(linear(hidden, weight, bias).float(), target)`, without the [rows, vocab] logits: rows go
 * through in chunks of `chunkRows`, each chunk's logits are made in the inputs' dtype (a bf16 GEMM on a
 * GPU), upcast to float32 for the loss and dropped before the next chunk, so at most one chunk's logits
 * exist at a time (the loss and gradients stay O(rows + vocab·features)).
 *
 * hidden [rows, features] and weight [vocab, features] are floating-point; target [rows] holds class
 * indices (int64 or int32) or `ignoreIndex`. Ignored rows lose 0 and get no gradient. Returns the
 * per-row losses [rows] (`'none'`), their sum, or their mean over non-ignored rows (`'mean'`, the
 * default), in float32 (float64 for float64 inputs).
 *
 * Backward never holds more than one chunk's logits either. With `'mean'` or `'sum'` and gradients
 * being recorded, each chunk's gradients (dHidden = (softmax − onehot)·W, dWeight and dBias when they
 * require grad) are made right after its loss, in the forward, and backward only scales them (Liger
 * Kernel's fused linear cross-entropy): the logits are computed once. With `'none'` the incoming
 * gradient differs per row, so backward recomputes each chunk's logits instead.
 */
export function linearCrossEntropy(
  hidden: Tensor,
  weight: Tensor,
  target: Tensor,
  options: LinearCrossEntropyOptions = {},
): Tensor {
  const op = 'linearCrossEntropy';
  assertTensor(op, 'hidden', hidden);
  assertTensor(op, 'weight', weight);
  assertTensor(op, 'target', target);
  const bias = options.bias ?? null;
  if (bias !== null) assertTensor(op, 'bias', bias);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  const softcap = options.softcap ?? null;
  checkOptions(options, ignoreIndex, reduction, softcap);
  const floats: [string, Tensor][] = [
    ['hidden', hidden],
    ['weight', weight],
  ];
  if (bias) floats.push(['bias', bias]);
  for (const [name, t] of floats) {
    if (!isFloating(t.dtype)) {
      throw new DtypeError(
        `[${op}] ${name} must be floating-point (float32, float64, float16 or bfloat16), received ${t.dtype}`,
      );
    }
  }
  if (target.dtype !== 'int64' && target.dtype !== 'int32') {
    throw new DtypeError(`[${op}] target must hold class indices (int64 or int32), received ${target.dtype}`);
  }
  if (hidden.rank !== 2) {
    throw new ShapeError(`[${op}] hidden must be [rows, features], received ${fmtShape(hidden.shape)}`);
  }
  const [rows, features] = hidden.shape as [number, number];
  if (weight.rank !== 2 || weight.shape[1] !== features) {
    throw new ShapeError(
      `[${op}] weight must be [vocab, ${features}] for hidden ${fmtShape(hidden.shape)}, received ${fmtShape(weight.shape)}`,
    );
  }
  const vocab = weight.shape[0]!;
  if (target.rank !== 1 || target.shape[0] !== rows) {
    throw new ShapeError(
      `[${op}] target must be [${rows}] (one class per row of hidden), received ${fmtShape(target.shape)}`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== vocab)) {
    throw new ShapeError(
      `[${op}] bias must be [${vocab}] (one per row of weight), received ${fmtShape(bias.shape)}`,
    );
  }
  commonBackend(op, [hidden, weight, target, ...(bias ? [bias] : [])]);
  const computeDtype = promoteTypes(
    promoteTypes(hidden.dtype, weight.dtype),
    bias?.dtype ?? hidden.dtype,
  ) as FloatDtype;
  const lossDtype: FloatDtype = computeDtype === 'float64' ? 'float64' : 'float32';
  const head: Head = { weight, bias, softcap, computeDtype, lossDtype };
  const chunkRows = options.chunkRows ?? linearCrossEntropyChunkRows(vocab, lossDtype);

  const checked = checkTargets(target, vocab, ignoreIndex, 'linearCrossEntropy');
  const inputs = [hidden, weight, ...(bias ? [bias] : [])];
  const wants = inputs.map((t) => t.requiresGrad);
  const recording = isGradEnabled() && wants.some(Boolean);
  const fused = recording && reduction !== 'none';
  const count = () => (checked ? checked.valid : valid!.sum());

  // Known on the host: no mask when nothing is ignored. On a device: always a mask.
  const { valid, index, weights } = noGrad(() => {
    const mask = checked && checked.valid === rows ? null : target.ne(ignoreIndex);
    const safe = mask ? where(mask, target, 0) : target;
    return {
      valid: mask,
      index: safe.reshape(rows, 1).cast('int64'),
      weights: mask && fused ? mask.cast(lossDtype) : null,
    };
  });
  const result = noGrad(() =>
    runChunks(hidden, head, index, chunkRows, fused ? { rowWeights: weights, wants } : null),
  );
  const perRow = valid ? noGrad(() => where(valid, result.loss!, 0)) : result.loss!;
  if (fused) {
    const total = noGrad(() => perRow.sum());
    const saved = result.grads.filter((g): g is Tensor => g !== null);
    const recorded = record(
      'linearCrossEntropySum',
      inputs,
      total,
      { present: result.grads.map(Boolean) },
      saved,
    );
    return reduction === 'sum' ? recorded : recorded.div(count());
  }
  const attrs = { chunkRows, softcap, hasBias: bias !== null };
  const recorded = record('linearCrossEntropy', inputs, perRow, attrs, valid ? [index, valid] : [index]);
  if (reduction === 'none') return recorded;
  const total = recorded.sum();
  return reduction === 'sum' ? total : total.div(count());
}

function checkOptions(
  options: LinearCrossEntropyOptions,
  ignoreIndex: number,
  reduction: string,
  softcap: number | null,
): void {
  const op = 'linearCrossEntropy';
  if (!['mean', 'sum', 'none'].includes(reduction)) {
    throw new TensorError(
      `[${op}] reduction must be one of mean, sum, none, received ${JSON.stringify(reduction)}`,
    );
  }
  if (!Number.isInteger(ignoreIndex)) {
    throw new TensorError(`[${op}] ignoreIndex must be an integer, received ${String(ignoreIndex)}`);
  }
  const rows = options.chunkRows;
  if (rows !== undefined && !(Number.isInteger(rows) && rows > 0)) {
    throw new TensorError(`[${op}] chunkRows must be a positive integer, received ${String(rows)}`);
  }
  if (softcap !== null && !(typeof softcap === 'number' && softcap > 0 && Number.isFinite(softcap))) {
    throw new TensorError(`[${op}] softcap must be a positive number or null, received ${String(softcap)}`);
  }
}

/** What the chunk loop computes gradients for in the forward: row weights (null: all 1) and inputs. */
interface ForwardGradients {
  readonly rowWeights: Tensor | null;
  readonly wants: readonly boolean[];
}

/**
 * The per-row losses [rows] (ignored rows included, with their safe index 0), chunk by chunk; with
 * `gradients`, also the gradients of Σ rowWeight·loss for the wanted inputs (hidden, weight, bias).
 */
function runChunks(
  hidden: Tensor,
  head: Head,
  index: Tensor,
  chunkRows: number,
  gradients: ForwardGradients | null,
  withLoss = true,
): { loss: Tensor | null; grads: (Tensor | null)[] } {
  const rows = hidden.shape[0]!;
  const losses: Tensor[] = [];
  const hiddenGrads: Tensor[] = [];
  let weightGrad: Tensor | null = null;
  let biasGrad: Tensor | null = null;
  for (let start = 0; start < rows; start += chunkRows) {
    const length = Math.min(chunkRows, rows - start);
    const [loss, dh, dw, db] = tidy(() => {
      const h = hidden.narrow(0, start, length);
      const at = index.narrow(0, start, length);
      const { logProbs, tanh } = chunkLogProbs(h, head);
      const backend = logProbs.backend;
      let chunkLoss: Tensor | null = null;
      if (withLoss) {
        const picked = wrap(backend, backend.gather(logProbs.view(), 1, at.view()), head.lossDtype, [
          length,
          1,
        ]);
        chunkLoss = picked.neg().reshape(length);
      }
      if (!gradients) return [chunkLoss, null, null, null];
      const g = gradients.rowWeights
        ? gradients.rowWeights.narrow(0, start, length).contiguous()
        : ones([length], { dtype: head.lossDtype, backend: backend.name });
      return [chunkLoss, ...chunkGradients(h, head, logProbs, tanh, g, at, gradients.wants)];
    });
    if (loss) losses.push(loss);
    if (dh) hiddenGrads.push(dh);
    weightGrad = accumulate(weightGrad, dw);
    biasGrad = accumulate(biasGrad, db);
  }
  const loss = withLoss ? joinRows(losses, [rows], head.lossDtype, hidden) : null;
  if (!gradients) return { loss, grads: [] };
  const [wantsHidden, wantsWeight, wantsBias] = gradients.wants;
  return {
    loss,
    grads: [
      wantsHidden ? joinRows(hiddenGrads, hidden.shape, hidden.dtype as FloatDtype, hidden) : null,
      wantsWeight ? cast(weightGrad, head.weight.dtype, head.weight.shape, hidden) : null,
      ...(head.bias ? [wantsBias ? cast(biasGrad, head.bias.dtype, head.bias.shape, hidden) : null] : []),
    ],
  };
}

/** A summed gradient in `dtype`, or zeros when there were no rows to sum. */
function cast(sum: Tensor | null, dtype: Dtype, shape: readonly number[], like: Tensor): Tensor {
  return sum ? sum.cast(dtype) : zeros(shape, { dtype, backend: like.backend.name });
}

/** Chunks concatenated along rows (disposing the pieces), or an empty tensor for no rows. */
function joinRows(pieces: Tensor[], shape: readonly number[], dtype: FloatDtype, like: Tensor): Tensor {
  if (pieces.length === 0) return zeros(shape, { dtype, backend: like.backend.name });
  if (pieces.length === 1) return pieces[0]!;
  const joined = cat(pieces, 0);
  for (const piece of pieces) piece.dispose();
  return joined;
}

/** sum + part, disposing both (a running sum over chunks). */
function accumulate(sum: Tensor | null, part: Tensor | null): Tensor | null {
  if (!part) return sum;
  if (!sum) return part;
  const next = sum.add(part);
  sum.dispose();
  part.dispose();
  return next;
}

/**
 * One chunk's log-probabilities [length, vocab] in the loss dtype: the product (and cap) in the inputs'
 * dtype, as `linear(...)` and Gemma 2's `logits / cap → tanh → · cap` compute them, then upcast. Also
 * tanh(logits / cap) for the cap's backward. Intermediates are dropped as soon as they are used.
 */
function chunkLogProbs(h: Tensor, head: Head): { logProbs: Tensor; tanh: Tensor | null } {
  const product = matmul(h, head.weight.T);
  let z = head.bias ? product.add(head.bias) : product;
  if (z !== product) product.dispose();
  let tanh: Tensor | null = null;
  if (head.softcap !== null) {
    const scaled = z.div(head.softcap);
    z.dispose();
    tanh = scaled.tanh();
    scaled.dispose();
    z = tanh.mul(head.softcap);
  }
  const scores = z.dtype === head.lossDtype ? z : z.cast(head.lossDtype);
  if (scores !== z) z.dispose();
  const backend = scores.backend;
  const logProbs = wrap(backend, backend.softmax(scores.view(), 1, true), scores.dtype, scores.shape);
  scores.dispose();
  return { logProbs, tanh };
}

/**
 * Gradients of Σᵢ gᵢ·lossᵢ over one chunk for the wanted inputs: d/dlogits = (softmax − onehot)·g
 * (times 1 − tanh² through a cap), then dHidden = dlogits·W in the inputs' dtype, and dWeight =
 * dlogitsᵀ·h and dBias = Σ dlogits in the loss dtype (summed over chunks before rounding to theirs).
 */
function chunkGradients(
  h: Tensor,
  head: Head,
  logProbs: Tensor,
  tanh: Tensor | null,
  g: Tensor,
  index: Tensor,
  wants: readonly boolean[],
): [Tensor | null, Tensor | null, Tensor | null] {
  const backend = logProbs.backend;
  const rows = logProbs.shape[0]!;
  let dz: Tensor;
  if (backend.softmaxCrossEntropyBackward) {
    const storage = backend.softmaxCrossEntropyBackward(logProbs.view(), g.view(), index.view());
    dz = wrap(backend, storage, logProbs.dtype, logProbs.shape);
  } else {
    const column = g.reshape(rows, 1);
    dz = logProbs.exp().mul(column);
    scatterAddInPlace(dz, 1, index, column.neg());
  }
  logProbs.dispose();
  if (tanh) {
    const slope = tanh.cast(head.lossDtype).square().neg().add(1);
    const capped = dz.mul(slope);
    dz.dispose();
    dz = capped;
  }
  const [wantsHidden, wantsWeight, wantsBias] = wants;
  const dw = wantsWeight ? dz.T.matmul(h.dtype === head.lossDtype ? h : h.cast(head.lossDtype)) : null;
  const db = head.bias && wantsBias ? dz.sum(0) : null;
  let dh: Tensor | null = null;
  if (wantsHidden) {
    const low = dz.dtype === head.computeDtype ? dz : dz.cast(head.computeDtype);
    if (low !== dz) dz.dispose();
    const product = matmul(low, head.weight);
    dh = product.dtype === h.dtype ? product : product.cast(h.dtype);
  }
  return [dh, dw, db];
}

/**
 * Backward of `linearCrossEntropySum` (the summed loss whose gradients the forward made): those
 * gradients times the incoming scalar, rounded to each input's dtype.
 */
export function linearCrossEntropySumBackward({
  grad,
  inputs,
  attrs,
  saved,
  needs,
}: GradContext): (Tensor | null)[] {
  const present = attrs.present as boolean[];
  let next = 0;
  return inputs.map((input, i) => {
    const g = present[i] ? saved[next++]! : null;
    if (!g || !needs[i]) return null;
    const scaled = g.mul(grad);
    return scaled.dtype === input.dtype ? scaled : scaled.cast(input.dtype);
  });
}

/**
 * Backward of the per-row `linearCrossEntropy`: recomputes each chunk's logits and returns the
 * gradients of Σᵢ gradᵢ·lossᵢ (ignored rows weigh 0), holding one chunk's logits at a time.
 */
export function linearCrossEntropyBackward({
  grad,
  inputs,
  attrs,
  saved,
  needs,
}: GradContext): (Tensor | null)[] {
  const [hidden, weight, bias] = inputs as [Tensor, Tensor, Tensor | undefined];
  const [index, valid] = saved as [Tensor, Tensor | undefined];
  const computeDtype = promoteTypes(
    promoteTypes(hidden.dtype, weight.dtype),
    bias?.dtype ?? hidden.dtype,
  ) as FloatDtype;
  const lossDtype: FloatDtype = computeDtype === 'float64' ? 'float64' : 'float32';
  const head: Head = {
    weight,
    bias: bias ?? null,
    softcap: attrs.softcap as number | null,
    computeDtype,
    lossDtype,
  };
  const g = grad.dtype === lossDtype ? grad : grad.cast(lossDtype);
  // Ignored rows lose a constant 0: exactly no gradient, whatever arrives for them.
  const rowWeights = valid ? where(valid, g, 0) : g;
  const { grads } = runChunks(
    hidden,
    head,
    index,
    attrs.chunkRows as number,
    { rowWeights, wants: needs },
    false,
  );
  return grads;
}
