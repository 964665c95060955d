import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';

export interface Gpt2Config extends BaseModelConfig {
  readonly modelType: 'gpt2';
  /** `n_positions`. */
  readonly maxPositionEmbeddings: number;
  /** `n_inner` (default 4 × n_embd). */
  readonly intermediateSize: number;
  readonly activationFunction: keyof typeof ACTIVATIONS;
  readonly layerNormEpsilon: number;
  readonly residPdrop: number;
  readonly embdPdrop: number;
  readonly attnPdrop: number;
  readonly scaleAttnWeights: boolean;
  readonly scaleAttnByInverseLayerIdx: boolean;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/** transformers' GPT2Config: `n_embd`, `n_layer`, `n_head`, `n_positions` are the stored names. */
export function parseGpt2Config(raw: RawConfig): Gpt2Config {
  const fields = new ConfigFields(raw, 'gpt2');
  const hiddenSize = fields.int('n_embd', 768);
  const numAttentionHeads = fields.int('n_head', 12);
  if (hiddenSize % numAttentionHeads !== 0) {
    fields.invalid(`n_embd (${hiddenSize}) must be a multiple of n_head (${numAttentionHeads})`);
  }
  if (fields.bool('add_cross_attention', false)) {
    fields.invalid('add_cross_attention (encoder-decoder GPT-2) is not supported');
  }
  const probability = { min: 0, max: 1 };
  return {
    modelType: 'gpt2',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 50257),
    hiddenSize,
    numHiddenLayers: fields.int('n_layer', 12),
    numAttentionHeads,
    maxPositionEmbeddings: fields.int('n_positions', 1024),
    intermediateSize: fields.int('n_inner', 4 * hiddenSize),
    activationFunction: fields.choice('activation_function', 'gelu_new', ACTIVATION_NAMES),
    layerNormEpsilon: fields.number('layer_norm_epsilon', 1e-5, { min: 0 }),
    residPdrop: fields.number('resid_pdrop', 0.1, probability),
    embdPdrop: fields.number('embd_pdrop', 0.1, probability),
    attnPdrop: fields.number('attn_pdrop', 0.1, probability),
    scaleAttnWeights: fields.bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: fields.bool('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: fields.bool('tie_word_embeddings', true),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', 50256),
    eosTokenIds: fields.tokenIds('eos_token_id', [50256]),
    padTokenId: fields.optionalTokenId('pad_token_id', null),
    ...readClassification(fields),
    raw,
  };
}
