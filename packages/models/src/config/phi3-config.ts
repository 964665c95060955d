import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';
import { parseRope, type RopeConfig } from './rope.js';

export interface Phi3Config extends BaseModelConfig {
  readonly modelType: 'phi3';
  readonly intermediateSize: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  /** Leading dims of each head that are rotated: headDim × `partial_rotary_factor`. */
  readonly rotaryDim: number;
  readonly hiddenAct: keyof typeof ACTIVATIONS;
  readonly maxPositionEmbeddings: number;
  /** The pretrained context (`original_max_position_embeddings`, default 4096). */
  readonly originalMaxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly rope: RopeConfig;
  readonly residPdrop: number;
  readonly embdPdrop: number;
  readonly attentionDropout: number;
  /** Window of every layer (null: full attention). */
  readonly slidingWindow: number | null;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/** transformers' Phi3Config (Phi-3 and Phi-4-mini): fused projections, LongRoPE when `rope_scaling` asks. */
export function parsePhi3Config(raw: RawConfig): Phi3Config {
  const fields = new ConfigFields(raw, 'phi3');
  const hiddenSize = fields.int('hidden_size', 3072);
  const numAttentionHeads = fields.int('num_attention_heads', 32);
  const numKeyValueHeads = fields.int('num_key_value_heads', numAttentionHeads);
  if (!fields.has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    fields.invalid(
      `hidden_size (${hiddenSize}) must be a multiple of num_attention_heads (${numAttentionHeads}) when head_dim is not given`,
    );
  }
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fields.invalid(
      `num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const headDim = fields.int('head_dim', Math.floor(hiddenSize / numAttentionHeads));
  const partial = fields.number('partial_rotary_factor', 1, { min: 0, max: 1 });
  const rotaryDim = Math.floor(headDim * partial);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    fields.invalid(
      `partial_rotary_factor ${partial} × head_dim ${headDim} must give an even number of rotated dims`,
    );
  }
  const maxPositionEmbeddings = fields.int('max_position_embeddings', 4096);
  const rope = parseRope(fields, maxPositionEmbeddings, { partialRotary: true, longrope: true });
  if (rope.type === 'longrope') {
    for (const [key, list] of [
      ['short_factor', rope.shortFactor],
      ['long_factor', rope.longFactor],
    ] as const) {
      if (list.length !== rotaryDim / 2) {
        fields.invalid(
          `rope_scaling.${key} must have ${rotaryDim / 2} entries (rotated dims / 2), received ${list.length}`,
        );
      }
    }
  }
  const probability = { min: 0, max: 1 };
  return {
    modelType: 'phi3',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 32064),
    hiddenSize,
    intermediateSize: fields.int('intermediate_size', 8192),
    numHiddenLayers: fields.int('num_hidden_layers', 32),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    rotaryDim,
    hiddenAct: fields.choice('hidden_act', 'silu', ACTIVATION_NAMES),
    maxPositionEmbeddings,
    originalMaxPositionEmbeddings: fields.int('original_max_position_embeddings', 4096),
    rmsNormEps: fields.number('rms_norm_eps', 1e-5, { min: 0 }),
    rope,
    residPdrop: fields.number('resid_pdrop', 0, probability),
    embdPdrop: fields.number('embd_pdrop', 0, probability),
    attentionDropout: fields.number('attention_dropout', 0, probability),
    slidingWindow: fields.optionalInt('sliding_window', null),
    tieWordEmbeddings: fields.bool('tie_word_embeddings', false),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', 1),
    eosTokenIds: fields.tokenIds('eos_token_id', [32000]),
    padTokenId: fields.optionalTokenId('pad_token_id', 32000),
    ...readClassification(fields),
    raw,
  };
}
