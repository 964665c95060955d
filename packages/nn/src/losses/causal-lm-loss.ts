import { cat, crossEntropy, full, type Tensor } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';

/** Options of {@link causalLmLoss}. */
export interface CausalLmLossOptions {
  /** Labels equal to this are not predicted (default -100, what tokenizers' padding uses). */
  readonly ignoreIndex?: number;
  /**
   * Divide the summed loss by this count instead of taking the mean (transformers'
   * `num_items_in_batch`: the non-ignored labels of the whole accumulation window, so that gradient
   * accumulation weighs every token equally).
   */
  readonly numItemsInBatch?: number;
}

/**
 * Next-token cross-entropy of a causal language model, as transformers' `ForCausalLMLoss`: position t
 * of `logits` [B, T, V] predicts `labels` [B, T] at t + 1; the last position predicts nothing. Logits
 * are upcast to float32.
 */
export function causalLmLoss(logits: Tensor, labels: Tensor, options: CausalLmLossOptions = {}): Tensor {
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (logits.rank !== 3 || labels.rank !== 2) {
    throw new ModuleError(
      `[causalLmLoss] expects logits [batch, seq, vocab] and labels [batch, seq], received [${logits.shape.join(', ')}] and [${labels.shape.join(', ')}]`,
    );
  }
  const [batch, seq, vocab] = logits.shape as [number, number, number];
  if (labels.shape[0] !== batch || labels.shape[1] !== seq) {
    throw new ModuleError(
      `[causalLmLoss] labels [${labels.shape.join(', ')}] do not match logits [${logits.shape.join(', ')}]`,
    );
  }
  const pad = full([batch, 1], ignoreIndex, { dtype: labels.dtype, backend: labels.backend.name });
  const shifted = cat([labels.narrow(1, 1, seq - 1), pad], 1).reshape([batch * seq]);
  const flat = (logits.dtype === 'float32' ? logits : logits.float()).reshape([batch * seq, vocab]);
  const n = options.numItemsInBatch;
  if (n === undefined) return crossEntropy(flat, shifted, { ignoreIndex });
  if (typeof n !== 'number' || !(n > 0)) {
    throw new ModuleError(`[causalLmLoss] numItemsInBatch must be a positive number, received ${String(n)}`);
  }
  return crossEntropy(flat, shifted, { ignoreIndex, reduction: 'sum' }).div(n);
}
