import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';

export type { ProblemType } from './classification.js';

export interface BertConfig extends BaseModelConfig {
  readonly modelType: 'bert';
  readonly intermediateSize: number;
  readonly hiddenAct: keyof typeof ACTIVATIONS;
  readonly hiddenDropoutProb: number;
  readonly attentionProbsDropoutProb: number;
  readonly maxPositionEmbeddings: number;
  readonly typeVocabSize: number;
  readonly layerNormEps: number;
  /** Dropout before the classifier (defaults to hidden_dropout_prob). */
  readonly classifierDropout: number;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

export function parseBertConfig(raw: RawConfig): BertConfig {
  const fields = new ConfigFields(raw, 'bert');
  const hiddenSize = fields.int('hidden_size', 768);
  const numAttentionHeads = fields.int('num_attention_heads', 12);
  if (hiddenSize % numAttentionHeads !== 0) {
    fields.invalid(
      `hidden_size (${hiddenSize}) must be a multiple of num_attention_heads (${numAttentionHeads})`,
    );
  }
  if (fields.bool('is_decoder', false))
    fields.invalid('is_decoder (BERT as a causal decoder) is not supported');
  if (fields.bool('add_cross_attention', false)) fields.invalid('add_cross_attention is not supported');
  fields.choice('position_embedding_type', 'absolute', ['absolute']);
  const probability = { min: 0, max: 1 };
  const hiddenDropoutProb = fields.number('hidden_dropout_prob', 0.1, probability);
  return {
    modelType: 'bert',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 30522),
    hiddenSize,
    numHiddenLayers: fields.int('num_hidden_layers', 12),
    numAttentionHeads,
    intermediateSize: fields.int('intermediate_size', 3072),
    hiddenAct: fields.choice('hidden_act', 'gelu', ACTIVATION_NAMES),
    hiddenDropoutProb,
    attentionProbsDropoutProb: fields.number('attention_probs_dropout_prob', 0.1, probability),
    maxPositionEmbeddings: fields.int('max_position_embeddings', 512),
    typeVocabSize: fields.int('type_vocab_size', 2),
    layerNormEps: fields.number('layer_norm_eps', 1e-12, { min: 0 }),
    classifierDropout: fields.optionalNumber('classifier_dropout', probability) ?? hiddenDropoutProb,
    ...readClassification(fields),
    tieWordEmbeddings: fields.bool('tie_word_embeddings', true),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', null),
    eosTokenIds: fields.tokenIds('eos_token_id', []),
    padTokenId: fields.optionalTokenId('pad_token_id', 0),
    raw,
  };
}
