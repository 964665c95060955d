import { type Tensor, tensor } from '@lorakit/tensor';
import type { Example } from './dataset.js';
import type { TrainingTask } from './task.js';

/** A padded batch: ids, attention mask and labels (shape by task), int64. */
export interface Batch {
  readonly inputIds: Tensor;
  readonly attentionMask: Tensor;
  /** Causal LM: [batch, longest]; seq2seq: [batch, longest target]; classification: [batch]. */
  readonly labels: Tensor;
  /** Real (non-padding) tokens, for throughput. */
  readonly tokens: number;
  /** Σ length² over the rows (query-key pairs of attention), for the FLOPs estimate. */
  readonly attentionPairs: number;
  /** Labels that are not -100 (what the loss is averaged over). */
  readonly labelled: number;
}

/** Rows right-padded to the longest with `fill`, as an int64 tensor [rows, longest]. */
function padded(rows: readonly (readonly number[])[], fill: number): Tensor {
  const longest = Math.max(...rows.map((row) => row.length));
  const data = new BigInt64Array(rows.length * longest).fill(BigInt(fill));
  for (const [r, row] of rows.entries())
    for (const [i, v] of row.entries()) data[r * longest + i] = BigInt(v);
  return tensor(data, { shape: [rows.length, longest], dtype: 'int64' });
}

/**
 * Right-pads examples to the longest: padding gets `padId`, attention 0 and label -100. Seq2seq labels
 * (the targets) are padded on their own; classification labels are one id per row (a float for
 * regression).
 */
export function collate(
  examples: readonly Example[],
  padId: number,
  task: TrainingTask = 'causal-lm',
): Batch {
  const ids = examples.map((e) => e.inputIds);
  const tokens = ids.reduce((n, row) => n + row.length, 0);
  const attentionPairs = ids.reduce((n, row) => n + row.length ** 2, 0);
  const inputIds = padded(ids, padId);
  const attentionMask = padded(
    ids.map((row) => row.map(() => 1)),
    0,
  );
  if (task === 'sequence-classification') {
    const values = examples.map((e) => e.labels[0]!);
    const labels = values.every(Number.isInteger)
      ? tensor(BigInt64Array.from(values, BigInt), { shape: [values.length], dtype: 'int64' })
      : tensor(Float32Array.from(values), { shape: [values.length] });
    return { inputIds, attentionMask, labels, tokens, attentionPairs, labelled: examples.length };
  }
  const labelled = examples.reduce((n, e) => n + e.labels.filter((l) => l !== -100).length, 0);
  return {
    inputIds,
    attentionMask,
    labels: padded(
      examples.map((e) => e.labels),
      -100,
    ),
    tokens,
    attentionPairs,
    labelled,
  };
}

/** Consecutive batches of `batchSize` examples (the last may be smaller). */
export function batchesOf(
  examples: readonly Example[],
  batchSize: number,
  padId: number,
  task: TrainingTask = 'causal-lm',
): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < examples.length; i += batchSize)
    out.push(collate(examples.slice(i, i + batchSize), padId, task));
  return out;
}
