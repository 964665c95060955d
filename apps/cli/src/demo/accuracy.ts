import { generate, type PreTrainedModel, type Tokenizer } from '@lorakit/models';
import { noGrad } from '@lorakit/tensor';

export interface ExactMatch {
  /** Fraction of answers equal to the expected ones, in [0, 1]. */
  readonly accuracy: number;
  /** The generated answers (special tokens removed). */
  readonly outputs: string[];
}

/**
 * Greedy answers to `prompts` in one left-padded batch, compared with `expected` character for character
 * (exact match). The model is whatever is passed: a plain base or one with an active adapter.
 */
export function exactMatch(
  model: PreTrainedModel,
  tokenizer: Tokenizer,
  prompts: readonly string[],
  expected: readonly string[],
): ExactMatch {
  const { inputIds, attentionMask } = tokenizer.encodeBatch(prompts, { paddingSide: 'left' });
  const promptLength = inputIds.shape[1]!;
  const longest = Math.max(...expected.map((e) => tokenizer.encode(e, { addSpecialTokens: false }).length));
  const wasTraining = model.training;
  model.eval();
  const sequences = noGrad(() => generate(model, inputIds, { attentionMask, maxNewTokens: longest + 1 }));
  if (wasTraining) model.train();
  const rows = sequences.toList() as (number | bigint)[][];
  const outputs = rows.map((row) =>
    tokenizer.decode(row.slice(promptLength).map(Number), { skipSpecialTokens: true }),
  );
  const correct = outputs.filter((o, i) => o === expected[i]).length;
  return { accuracy: correct / prompts.length, outputs };
}
