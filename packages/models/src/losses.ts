import { crossEntropy, mseLoss, type Tensor } from '@lorakit/tensor';
import type { ProblemType } from './config/classification.js';
import { ModelError } from './errors.js';

const IGNORE_INDEX = -100;

// The causal-LM loss (labels shifted inside the model) is @lorakit/nn's causalLmLoss.

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
