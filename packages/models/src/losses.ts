import { cat, crossEntropy, full, linearCrossEntropy, mseLoss, type Tensor } from '@lorakit/tensor';
import type { ProblemType } from './config/classification.js';
import { ModelError } from './errors.js';

const IGNORE_INDEX = -100;

// The causal-LM loss on materialized logits (labels shifted inside the model) is @lorakit/nn's
// causalLmLoss; lmHeadLoss below takes it (and the sequence-to-sequence loss) from the hidden states.

/** Masked-LM loss: mean cross-entropy over positions whose label is not -100. */
export function maskedLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  checkLabels('masked LM', labels, [batch, length]);
  return crossEntropy(logits.reshape(-1, vocab), labels.cast('int64').reshape(-1), {
    ignoreIndex: IGNORE_INDEX,
  });
}

/** transformers' choice when `problem_type` is unset: 1 label → regression, integer labels → single-label. */
export function inferProblemType(numLabels: number, labels: Tensor): ProblemType {
  if (numLabels === 1) return 'regression';
  if (labels.dtype === 'int64' || labels.dtype === 'int32') return 'single_label_classification';
  return 'multi_label_classification';
}

/** Sequence-classification loss: MSE (regression), cross-entropy, or BCE-with-logits (multi-label). */
export function sequenceClassificationLoss(logits: Tensor, labels: Tensor, problemType: ProblemType): Tensor {
  const [batch, numLabels] = logits.shape as [number, number];
  if (problemType === 'regression') {
    return numLabels === 1
      ? mseLoss(logits.reshape(-1), labels.float().reshape(-1))
      : mseLoss(logits, labels.float());
  }
  if (problemType === 'single_label_classification') {
    checkLabels('sequence classification', labels, [batch]);
    return crossEntropy(logits, labels.cast('int64').reshape(-1));
  }
  checkLabels('multi-label classification', labels, [batch, numLabels]);
  return bceWithLogits(logits, labels.float());
}

/** mean(max(x, 0) − x·y + log(1 + e^(−|x|))): binary cross-entropy on logits, stable for large |x|. */
export function bceWithLogits(logits: Tensor, targets: Tensor): Tensor {
  return logits.relu().sub(logits.mul(targets)).add(logits.abs().neg().exp().add(1).log()).mean();
}

function checkLabels(task: string, labels: Tensor, expected: readonly number[]): void {
  if (labels.rank !== expected.length || labels.shape.some((d, i) => d !== expected[i])) {
    throw new ModelError(
      `[loss] ${task} labels must be [${expected.join(', ')}], received [${labels.shape.join(', ')}]`,
    );
  }
}

/**
 * Sequence-to-sequence LM loss: cross-entropy of each decoder position against `labels` [batch, target]
 * (no shift: the decoder input is already shifted), -100 ignored; the mean, or the sum divided by
 * `numItemsInBatch` when given.
 */
export function seq2seqLmLoss(logits: Tensor, labels: Tensor, numItemsInBatch?: number): Tensor {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  checkLabels('sequence-to-sequence', labels, [batch, length]);
  const flat = logits.reshape(-1, vocab);
  const targets = labels.cast('int64').reshape(-1);
  if (numItemsInBatch === undefined) return crossEntropy(flat, targets, { ignoreIndex: IGNORE_INDEX });
  return crossEntropy(flat, targets, { ignoreIndex: IGNORE_INDEX, reduction: 'sum' }).div(numItemsInBatch);
}

/** Options of {@link lmHeadLoss}. */
export interface LmHeadLossOptions {
  /** Causal LMs: position t predicts `labels[t + 1]` and the last position nothing (transformers' shift). */
  readonly shift: boolean;
  /** Gemma 2's final soft-capping of the logits (null: none). */
  readonly softcap?: number | null;
  /** Divide the summed loss by this count instead of taking the mean over non-ignored labels. */
  readonly numItemsInBatch?: number | undefined;
  /** Rows of logits made at a time (default: linearCrossEntropy's, about 256 MiB of float32 logits). */
  readonly chunkRows?: number | undefined;
}

/**
 * The LM loss from the hidden states [batch, length, features] the head reads and its weight
 * [vocab, features] (and bias): the value of the loss on the logits — `causalLmLoss(logits, labels)`
 * with `shift`, otherwise {@link seq2seqLmLoss} — without materializing the logits, through
 * `linearCrossEntropy` (a chunk of rows at a time, upcast to float32; -100 ignored). Labels are
 * validated by the caller.
 */
export function lmHeadLoss(
  hidden: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  labels: Tensor,
  options: LmHeadLossOptions,
): Tensor {
  const [batch, length, features] = hidden.shape as [number, number, number];
  let targets = labels;
  if (options.shift) {
    const pad = full([batch, 1], IGNORE_INDEX, { dtype: labels.dtype, backend: labels.backend.name });
    targets = cat([labels.narrow(1, 1, length - 1), pad], 1);
  }
  const common = {
    bias,
    ignoreIndex: IGNORE_INDEX,
    softcap: options.softcap ?? null,
    ...(options.chunkRows === undefined ? {} : { chunkRows: options.chunkRows }),
  };
  const rows = hidden.reshape(batch * length, features);
  const flat = targets.reshape(batch * length);
  const n = options.numItemsInBatch;
  if (n === undefined) return linearCrossEntropy(rows, weight, flat, common);
  return linearCrossEntropy(rows, weight, flat, { ...common, reduction: 'sum' }).div(n);
}
