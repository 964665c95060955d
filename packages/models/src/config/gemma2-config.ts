import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';
import type { AttentionLayerType } from './llama-config.js';
import { parseRope, type RopeConfig } from './rope.js';

export interface Gemma2Config extends BaseModelConfig {
  readonly modelType: 'gemma2';
  readonly intermediateSize: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  /** `hidden_activation` (gelu_pytorch_tanh: GeGLU with tanh GELU). */
  readonly hiddenActivation: keyof typeof ACTIVATIONS;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly rope: RopeConfig;
  readonly attentionBias: boolean;
  readonly attentionDropout: number;
  /** Scores are scaled by query_pre_attn_scalar^-0.5 instead of headDim^-0.5. */
  readonly queryPreAttnScalar: number;
  readonly slidingWindow: number | null;
  readonly layerTypes: readonly AttentionLayerType[];
  /** cap·tanh(x / cap) on the final logits (null: none). */
  readonly finalLogitSoftcapping: number | null;
  /** cap·tanh(x / cap) on the attention scores (null: none). */
  readonly attnLogitSoftcapping: number | null;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/** transformers' Gemma2Config: sliding-window layers alternate with full ones (layer 0 slides). */
export function parseGemma2Config(raw: RawConfig): Gemma2Config {
  const fields = new ConfigFields(raw, 'gemma2');
  const numAttentionHeads = fields.int('num_attention_heads', 8);
  const numKeyValueHeads = fields.int('num_key_value_heads', 4);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fields.invalid(
      `num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const numHiddenLayers = fields.int('num_hidden_layers', 26);
  const maxPositionEmbeddings = fields.int('max_position_embeddings', 8192);
  const given = fields.stringList('layer_types');
  if (given && given.length !== numHiddenLayers) {
    fields.invalid(`layer_types has ${given.length} entries but num_hidden_layers is ${numHiddenLayers}`);
  }
  for (const type of given ?? []) {
    if (type !== 'full_attention' && type !== 'sliding_attention') {
      fields.invalid(
        `layer_types entry ${JSON.stringify(type)} is not supported; supported: full_attention, sliding_attention`,
      );
    }
  }
  const layerTypes = (given ??
    Array.from({ length: numHiddenLayers }, (_, i) =>
      (i + 1) % 2 ? 'sliding_attention' : 'full_attention',
    )) as AttentionLayerType[];
  const cap = (key: string, fallback: number) =>
    fields.raw[key] === null ? null : fields.number(key, fallback, { min: Number.MIN_VALUE });
  return {
    modelType: 'gemma2',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 256000),
    hiddenSize: fields.int('hidden_size', 2304),
    intermediateSize: fields.int('intermediate_size', 9216),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim: fields.int('head_dim', 256),
    hiddenActivation: fields.choice('hidden_activation', 'gelu_pytorch_tanh', ACTIVATION_NAMES),
    maxPositionEmbeddings,
    rmsNormEps: fields.number('rms_norm_eps', 1e-6, { min: 0 }),
    rope: parseRope(fields, maxPositionEmbeddings),
    attentionBias: fields.bool('attention_bias', false),
    attentionDropout: fields.number('attention_dropout', 0, { min: 0, max: 1 }),
    queryPreAttnScalar: fields.number('query_pre_attn_scalar', 256, { min: Number.MIN_VALUE }),
    slidingWindow: fields.optionalInt('sliding_window', 4096),
    layerTypes,
    finalLogitSoftcapping: cap('final_logit_softcapping', 30),
    attnLogitSoftcapping: cap('attn_logit_softcapping', 50),
    tieWordEmbeddings: fields.bool('tie_word_embeddings', true),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', 2),
    eosTokenIds: fields.tokenIds('eos_token_id', [1]),
    padTokenId: fields.optionalTokenId('pad_token_id', 0),
    ...readClassification(fields),
    raw,
  };
}
