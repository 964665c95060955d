import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';
import { parseRope, type RopeConfig } from './rope.js';

export type LlamaFamilyType = 'llama' | 'mistral' | 'qwen2';
export type AttentionLayerType = 'full_attention' | 'sliding_attention';

/** Llama, Mistral and Qwen2 share one architecture; they differ in defaults, biases and windows. */
export interface LlamaConfig extends BaseModelConfig {
  readonly modelType: LlamaFamilyType;
  readonly intermediateSize: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly hiddenAct: keyof typeof ACTIVATIONS;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly rope: RopeConfig;
  /** Bias on q_proj, k_proj, v_proj (Llama's `attention_bias`; always on for Qwen2). */
  readonly qkvBias: boolean;
  /** Bias on o_proj (Llama's `attention_bias`; never for Qwen2 and Mistral). */
  readonly outputBias: boolean;
  readonly mlpBias: boolean;
  readonly attentionDropout: number;
  /** Window of the layers whose type is `sliding_attention` (null: none). */
  readonly slidingWindow: number | null;
  /** Attention type per layer. */
  readonly layerTypes: readonly AttentionLayerType[];
}

interface FamilyDefaults {
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number | null;
  readonly maxPositionEmbeddings: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
}

// transformers' LlamaConfig, MistralConfig and Qwen2Config defaults.
const DEFAULTS: Readonly<Record<LlamaFamilyType, FamilyDefaults>> = {
  llama: {
    vocabSize: 32000,
    hiddenSize: 4096,
    intermediateSize: 11008,
    numHiddenLayers: 32,
    numAttentionHeads: 32,
    numKeyValueHeads: null,
    maxPositionEmbeddings: 2048,
    bosTokenId: 1,
    eosTokenIds: [2],
  },
  mistral: {
    vocabSize: 32000,
    hiddenSize: 4096,
    intermediateSize: 14336,
    numHiddenLayers: 32,
    numAttentionHeads: 32,
    numKeyValueHeads: 8,
    maxPositionEmbeddings: 4096 * 32,
    bosTokenId: 1,
    eosTokenIds: [2],
  },
  qwen2: {
    vocabSize: 151936,
    hiddenSize: 4096,
    intermediateSize: 22016,
    numHiddenLayers: 32,
    numAttentionHeads: 32,
    numKeyValueHeads: 32,
    maxPositionEmbeddings: 32768,
    bosTokenId: null,
    eosTokenIds: [],
  },
};

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

export function parseLlamaConfig(raw: RawConfig, modelType: LlamaFamilyType): LlamaConfig {
  const d = DEFAULTS[modelType];
  const fields = new ConfigFields(raw, modelType);
  const hiddenSize = fields.int('hidden_size', d.hiddenSize);
  const numAttentionHeads = fields.int('num_attention_heads', d.numAttentionHeads);
  const numKeyValueHeads = fields.int('num_key_value_heads', d.numKeyValueHeads ?? numAttentionHeads);
  const numHiddenLayers = fields.int('num_hidden_layers', d.numHiddenLayers);
  if (!fields.has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
    fields.invalid(
      `hidden_size (${hiddenSize}) must be a multiple of num_attention_heads (${numAttentionHeads}) when head_dim is not given`,
    );
  }
  const headDim = fields.int('head_dim', Math.floor(hiddenSize / numAttentionHeads));
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fields.invalid(
      `num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const maxPositionEmbeddings = fields.int('max_position_embeddings', d.maxPositionEmbeddings);
  const attentionBias = fields.bool('attention_bias', false);

  // Windows: Mistral applies `sliding_window` to every layer; Qwen2 only with use_sliding_window, to the
  // layers from max_window_layers on (or as `layer_types` says).
  let slidingWindow: number | null = null;
  let layerTypes: AttentionLayerType[];
  if (modelType === 'mistral') {
    slidingWindow = fields.optionalInt('sliding_window', 4096);
    layerTypes = new Array(numHiddenLayers).fill(
      slidingWindow === null ? 'full_attention' : 'sliding_attention',
    );
  } else if (modelType === 'qwen2') {
    const useSliding = fields.bool('use_sliding_window', false);
    slidingWindow = useSliding ? fields.optionalInt('sliding_window', 4096) : null;
    const maxWindowLayers = fields.int('max_window_layers', 28, { min: 0 });
    const given = fields.stringList('layer_types');
    layerTypes = given
      ? readLayerTypes(fields, given, numHiddenLayers)
      : Array.from({ length: numHiddenLayers }, (_, i) =>
          slidingWindow !== null && i >= maxWindowLayers ? 'sliding_attention' : 'full_attention',
        );
    if (slidingWindow === null) layerTypes = layerTypes.map(() => 'full_attention');
  } else {
    layerTypes = new Array(numHiddenLayers).fill('full_attention');
  }

  return {
    modelType,
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', d.vocabSize),
    hiddenSize,
    intermediateSize: fields.int('intermediate_size', d.intermediateSize),
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    hiddenAct: fields.choice('hidden_act', 'silu', ACTIVATION_NAMES),
    maxPositionEmbeddings,
    rmsNormEps: fields.number('rms_norm_eps', 1e-6, { min: 0 }),
    rope: parseRope(fields, maxPositionEmbeddings),
    qkvBias: modelType === 'qwen2' ? true : modelType === 'llama' && attentionBias,
    outputBias: modelType === 'llama' && attentionBias,
    mlpBias: modelType === 'llama' && fields.bool('mlp_bias', false),
    attentionDropout: fields.number('attention_dropout', 0, { min: 0, max: 1 }),
    slidingWindow,
    layerTypes,
    tieWordEmbeddings: fields.bool('tie_word_embeddings', false),
    initializerRange: fields.number('initializer_range', 0.02, { min: 0 }),
    bosTokenId: fields.optionalTokenId('bos_token_id', d.bosTokenId),
    eosTokenIds: fields.tokenIds('eos_token_id', d.eosTokenIds),
    padTokenId: fields.optionalTokenId('pad_token_id', null),
    ...readClassification(fields),
    raw,
  };
}

function readLayerTypes(fields: ConfigFields, given: string[], layers: number): AttentionLayerType[] {
  if (given.length !== layers) {
    fields.invalid(`layer_types has ${given.length} entries but num_hidden_layers is ${layers}`);
  }
  for (const type of given) {
    if (type !== 'full_attention' && type !== 'sliding_attention') {
      fields.invalid(
        `layer_types entry ${JSON.stringify(type)} is not supported; supported: full_attention, sliding_attention`,
      );
    }
  }
  return given as AttentionLayerType[];
}
