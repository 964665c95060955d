import { type Generator, noGrad, type Tensor } from '@lorakit/tensor';
import { GenerationError } from '../errors.js';
import { KVCache } from '../kv-cache.js';
import type { PreTrainedModel } from '../pretrained-model.js';
import { checkSamplingOptions, type SamplingOptions } from './sampling.js';
import { generateSeq2Seq } from './seq2seq.js';
import { int64Rows, nextTokens, stopTokens } from './steps.js';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to add to each sequence (default 20). */
  readonly maxNewTokens?: number;
  /** [batch, prompt] 1 for tokens, 0 for (left) padding. */
  readonly attentionMask?: Tensor;
  /** false (default): greedy, the most likely token each step. true: sample with the warpers. */
  readonly doSample?: boolean;
  /** Stop tokens (default the config's `eos_token_id`); null: never stop early. */
  readonly eosTokenId?: number | readonly number[] | null;
  /** Written after a sequence has finished (default the config's pad token, else the first eos). */
  readonly padTokenId?: number;
  /** Random stream for sampling (default: the global one). */
  readonly generator?: Generator;
  /** Reuse keys/values of earlier positions (default true); false recomputes the whole prefix each step. */
  readonly useCache?: boolean;
}

/**
 * Autoregressive decoding (transformers' `generate` for decoder-only models): greedy or sampled, with a
 * KV cache, stopping when every sequence has produced an eos token or after `maxNewTokens`. Returns the
 * prompt followed by the new tokens, [batch, prompt + new] int64; finished sequences are padded.
 *
 * With an attention mask (left padding), positions count only real tokens (`cumsum(mask) − 1`), as
 * transformers does. Each step reads the chosen token ids back to the host — the loop needs them.
 */
export function generate(model: PreTrainedModel, inputIds: Tensor, options: GenerateOptions = {}): Tensor {
  if (!model.canGenerate) {
    throw new GenerationError(
      `[generate] ${model.architecture} is not a causal or encoder-decoder language model; generation needs a …ForCausalLM, GPT2LMHeadModel or T5ForConditionalGeneration`,
    );
  }
  if (inputIds.rank !== 2 || inputIds.shape[1] === 0) {
    throw new GenerationError(
      `[generate] inputIds must be [batch, prompt] with a non-empty prompt, received [${inputIds.shape.join(', ')}]`,
    );
  }
  const maxNewTokens = options.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new GenerationError(
      `[generate] maxNewTokens must be a non-negative integer, received ${maxNewTokens}`,
    );
  }
  if (model.isEncoderDecoder) return generateSeq2Seq(model, inputIds, { ...options, maxNewTokens });
  const [batch, promptLength] = inputIds.shape as [number, number];
  const vocab = model.config.vocabSize;
  const sampling = options.doSample ? checkSamplingOptions(options, vocab) : null;
  const { eos, pad } = stopTokens(model, options);
  const backend = inputIds.backend.name;

  const sequences = Array.from({ length: batch }, (_, b) =>
    Array.from(inputIds.narrow(0, b, 1).toArray() as ArrayLike<number | bigint>, Number),
  );
  let mask = options.attentionMask
    ? Array.from({ length: batch }, (_, b) =>
        Array.from(
          options.attentionMask!.narrow(0, b, 1).toArray() as ArrayLike<number | bigint | boolean>,
          Number,
        ),
      )
    : null;
  if (mask?.some((row) => row.length !== promptLength)) {
    throw new GenerationError(
      `[generate] attentionMask must be [${batch}, ${promptLength}] like inputIds, received [${options.attentionMask!.shape.join(', ')}]`,
    );
  }
  // transformers: position_ids = cumsum(mask) − 1, 0 at padding.
  const positions = mask?.map((row) => {
    let count = 0;
    return row.map((m) => (m ? count++ : 0));
  });
  const lastPosition = positions?.map((row) => row.reduce((a, b) => Math.max(a, b), -1));
  const finished = new Array<boolean>(batch).fill(false);
  const useCache = options.useCache ?? true;
  let cache = useCache ? new KVCache() : undefined;
  const wasTraining = model.training;
  model.eval();

  const int64 = (rows: number[][]) => int64Rows(rows, backend);

  try {
    noGrad(() => {
      for (let step = 0; step < maxNewTokens; step++) {
        const total = sequences[0]!.length;
        if (cache && step > 0 && !model.reuseCache(cache, total)) cache = new KVCache();
        const fresh = cache && cache.length > 0 ? total - cache.length : total;
        const ids = int64(sequences.map((s) => s.slice(total - fresh)));
        const positionIds = positions
          ? int64(positions.map((row) => row.slice(row.length - fresh)))
          : undefined;
        const output = model.forward({
          inputIds: ids,
          attentionMask: mask ? int64(mask) : undefined,
          positionIds,
          cache,
        });
        const last = output.logits.select(1, fresh - 1);
        const next = nextTokens(last, sampling, options.generator);
        for (let b = 0; b < batch; b++) {
          const token = finished[b] ? pad : next[b]!;
          sequences[b]!.push(token);
          if (eos.includes(token)) finished[b] = true;
        }
        if (mask) mask = mask.map((row) => [...row, 1]);
        if (positions && lastPosition) {
          for (let b = 0; b < batch; b++) positions[b]!.push(++lastPosition[b]!);
        }
        if (eos.length > 0 && finished.every(Boolean)) break;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return int64(sequences);
}
