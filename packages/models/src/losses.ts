import { cat, crossEntropy, full, mseLoss, type Tensor } from '@lorakit/tensor';
import type { ProblemType } from './config/bert-config.js';
import { ModelError } from './errors.js';

const IGNORE_INDEX = -100;

/**
 * transformers' causal-LM loss: the labels are shifted left inside the model (position t predicts
 * labels[t+1]; the last position gets -100) and the loss is the mean cross-entropy over labels ≠ -100.
 * Shifting the labels rather than slicing the logits keeps the logits a view.
 */
export function causalLmLoss(logits: Tensor, labels: Tensor): Tensor {
  const [batch, length, vocab] = logits.shape as [number, number, number];
  checkLabels('causal LM', labels, [batch, length]);
  const ids = labels.cast('int64');
  const padding = full([batch, 1], IGNORE_INDEX, { dtype: 'int64', backend: labels.backend.name });
  const shifted = cat([ids.narrow(1, 1, length - 1), padding], 1);
  return crossEntropy(logits.float().reshape(-1, vocab), shifted.reshape(-1), { ignoreIndex: IGNORE_INDEX });
}

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
