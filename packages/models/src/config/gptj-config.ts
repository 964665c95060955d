import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';

export interface GptjConfig extends BaseModelConfig {
  readonly modelType: 'gptj';
  /** `n_positions`: the length of the sinusoid table. */
  readonly maxPositionEmbeddings: number;
  readonly headDim: number;
  /** Leading dims of each head that are rotated (`rotary_dim`; the whole head when null). */
  readonly rotaryDim: number;
  /** `n_inner` (default 4 × n_embd). */
  readonly intermediateSize: number;
  readonly activationFunction: keyof typeof ACTIVATIONS;
  readonly layerNormEpsilon: number;
  readonly residPdrop: number;
  readonly embdPdrop: number;
  readonly attnPdrop: number;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/** transformers' GPTJConfig: `n_embd`, `n_layer`, `n_head`, `n_positions`, `rotary_dim` are the stored names. */
export function parseGptjConfig(raw: RawConfig): GptjConfig {
  const fields = new ConfigFields(raw, 'gptj');
  const hiddenSize = fields.int('n_embd', 4096);
  const numAttentionHeads = fields.int('n_head', 16);
  if (hiddenSize % numAttentionHeads !== 0) {
    fields.invalid(`n_embd (${hiddenSize}) must be a multiple of n_head (${numAttentionHeads})`);
  }
  const headDim = hiddenSize / numAttentionHeads;
  const rotaryDim = fields.optionalInt('rotary_dim', 64) ?? headDim;
  if (rotaryDim > headDim || rotaryDim % 2 !== 0) {
    fields.invalid(
      `rotary_dim (${rotaryDim}) must be even and at most the head size n_embd / n_head (${headDim})`,
    );
  }
  const probability = { min: 0, max: 1 };
  return {
    modelType: 'gptj',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 50400),
    hiddenSize,
    numHiddenLayers: fields.int('n_layer', 28),
    numAttentionHeads,
    headDim,
    rotaryDim,
    maxPositionEmbeddings: fields.int('n_positions', 2048),
    intermediateSize: fields.int('n_inner', 4 * hiddenSize),
    activationFunction: fields.choice('activation_function', 'gelu_new', ACTIVATION_NAMES),
    layerNormEpsilon: fields.number('layer_norm_epsilon', 1e-5, { min: 0 }),
    residPdrop: fields.number('resid_pdrop', 0, probability),
    embdPdrop: fields.number('embd_pdrop', 0, probability),
    attnPdrop: fields.number('attn_pdrop', 0, probability),
    tieWordEmbeddings: fields.bool('tie_word_embeddings', false),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', 50256),
    eosTokenIds: fields.tokenIds('eos_token_id', [50256]),
    padTokenId: fields.optionalTokenId('pad_token_id', null),
    ...readClassification(fields),
    raw,
  };
}
