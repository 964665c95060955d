import { noGrad, type Tensor } from '@lorakit/tensor';
import { GenerationError } from '../errors.js';
import { EncoderDecoderCache } from '../kv-cache.js';
import type { PreTrainedModel } from '../pretrained-model.js';
import type { GenerateOptions } from './generate.js';
import { checkSamplingOptions } from './sampling.js';
import { int64Rows, nextTokens, stopTokens } from './steps.js';

interface EncoderDecoderLM extends PreTrainedModel {
  encode(inputIds: Tensor, attentionMask?: Tensor): Tensor;
}

/**
 * Decoding for encoder-decoder models (transformers' `generate` for T5): the encoder runs once on the
 * prompt, the decoder starts from `decoder_start_token_id` and adds one token per step, attending to the
 * encoder output; with the cache (default) the cross-attention keys/values are computed once and the
 * decoder's own keys/values grow by step. Returns the decoder sequences [batch, 1 + new] int64 (the start
 * token first); finished rows are padded.
 */
export function generateSeq2Seq(
  model: PreTrainedModel,
  inputIds: Tensor,
  options: GenerateOptions & { readonly maxNewTokens: number },
): Tensor {
  const encoderDecoder = model as EncoderDecoderLM;
  if (typeof encoderDecoder.encode !== 'function') {
    throw new GenerationError(`[generate] ${model.architecture} has no encoder to run`);
  }
  const [batch] = inputIds.shape as [number, number];
  const { attentionMask } = options;
  if (attentionMask && (attentionMask.rank !== 2 || attentionMask.shape.join() !== inputIds.shape.join())) {
    throw new GenerationError(
      `[generate] attentionMask must be [${inputIds.shape.join(', ')}] like inputIds, received [${attentionMask.shape.join(', ')}]`,
    );
  }
  const sampling = options.doSample ? checkSamplingOptions(options, model.config.vocabSize) : null;
  const { eos, pad } = stopTokens(model, options);
  const backend = inputIds.backend.name;
  const start = (model.config as { decoderStartTokenId?: number }).decoderStartTokenId ?? pad;
  const sequences = Array.from({ length: batch }, () => [start]);
  const finished = new Array<boolean>(batch).fill(false);
  const useCache = options.useCache ?? true;
  const cache = useCache ? new EncoderDecoderCache() : undefined;
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      const encoderOutput = encoderDecoder.encode(inputIds, attentionMask);
      for (let step = 0; step < options.maxNewTokens; step++) {
        const total = sequences[0]!.length;
        const fresh = useCache && step > 0 ? 1 : total;
        const output = model.forward({
          inputIds,
          attentionMask,
          encoderOutput,
          decoderInputIds: int64Rows(
            sequences.map((s) => s.slice(total - fresh)),
            backend,
          ),
          cache,
        });
        const next = nextTokens(output.logits.select(1, fresh - 1), sampling, options.generator);
        for (let b = 0; b < batch; b++) {
          const token = finished[b] ? pad : next[b]!;
          sequences[b]!.push(token);
          if (eos.includes(token)) finished[b] = true;
        }
        if (eos.length > 0 && finished.every(Boolean)) break;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return int64Rows(sequences, backend);
}
