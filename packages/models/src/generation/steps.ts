import { type Generator, rand, type Tensor, tensor } from '@lorakit/tensor';
import type { PreTrainedModel } from '../pretrained-model.js';
import { type SamplingOptions, sampleIndex, softmax, warpLogits } from './sampling.js';

/** The stop tokens and the padding written after a row has stopped (transformers' defaults). */
export function stopTokens(
  model: PreTrainedModel,
  options: { eosTokenId?: number | readonly number[] | null; padTokenId?: number },
): { eos: number[]; pad: number } {
  const eos =
    options.eosTokenId === null
      ? []
      : options.eosTokenId === undefined
        ? [...model.config.eosTokenIds]
        : typeof options.eosTokenId === 'number'
          ? [options.eosTokenId]
          : [...options.eosTokenId];
  return { eos, pad: options.padTokenId ?? model.config.padTokenId ?? eos[0] ?? 0 };
}

/** Rows of token ids as an int64 tensor [rows, length]. */
export function int64Rows(rows: readonly (readonly number[])[], backend: string): Tensor {
  return tensor(
    BigInt64Array.from(rows.flat(), (v) => BigInt(v)),
    { shape: [rows.length, rows[0]!.length], dtype: 'int64', backend },
  );
}

/** The next token of each row from its last logits [batch, vocab]: argmax, or a sample after the warpers. */
export function nextTokens(
  logits: Tensor,
  sampling: Required<SamplingOptions> | null,
  generator?: Generator,
): number[] {
  if (!sampling) return Array.from(logits.argmax(-1).toArray() as ArrayLike<number | bigint>, Number);
  const [batch, vocab] = logits.shape as [number, number];
  const values = logits.toArray() as Float32Array;
  const uniforms = rand([batch], { generator }).toArray() as Float32Array;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const row = Float64Array.from(values.subarray(b * vocab, (b + 1) * vocab));
    warpLogits(row, sampling);
    out.push(sampleIndex(softmax(row), uniforms[b]!));
  }
  return out;
}
