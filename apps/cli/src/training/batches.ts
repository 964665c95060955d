import { type Tensor, tensor } from '@lorakit/tensor';
import type { Example } from './dataset.js';

/** A padded batch for a causal LM: ids, attention mask and labels, [batch, longest] int64. */
export interface Batch {
  readonly inputIds: Tensor;
  readonly attentionMask: Tensor;
  readonly labels: Tensor;
  /** Real (non-padding) tokens, for throughput. */
  readonly tokens: number;
  /** Labels that are not -100 (the tokens the loss is taken over). */
  readonly labelled: number;
}

/** Right-pads examples to the longest: padding gets `padId`, attention 0 and label -100. */
export function collate(examples: readonly Example[], padId: number): Batch {
  const longest = Math.max(...examples.map((e) => e.inputIds.length));
  const size = examples.length * longest;
  const ids = new BigInt64Array(size).fill(BigInt(padId));
  const mask = new BigInt64Array(size);
  const labels = new BigInt64Array(size).fill(-100n);
  let tokens = 0;
  let labelled = 0;
  for (const [row, example] of examples.entries()) {
    for (const [i, id] of example.inputIds.entries()) {
      ids[row * longest + i] = BigInt(id);
      mask[row * longest + i] = 1n;
      const label = example.labels[i]!;
      labels[row * longest + i] = BigInt(label);
      if (label !== -100) labelled++;
    }
    tokens += example.inputIds.length;
  }
  const shape = [examples.length, longest];
  return {
    inputIds: tensor(ids, { shape, dtype: 'int64' }),
    attentionMask: tensor(mask, { shape, dtype: 'int64' }),
    labels: tensor(labels, { shape, dtype: 'int64' }),
    tokens,
    labelled,
  };
}

/** Consecutive batches of `batchSize` examples (the last may be smaller). */
export function batchesOf(examples: readonly Example[], batchSize: number, padId: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < examples.length; i += batchSize)
    out.push(collate(examples.slice(i, i + batchSize), padId));
  return out;
}
