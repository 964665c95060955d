import { ACTIVATIONS } from '@lorakit/nn';
import type { BaseModelConfig } from './base-config.js';
import { readClassification } from './classification.js';
import { ConfigFields, type RawConfig } from './fields.js';

export interface T5Config extends BaseModelConfig {
  readonly modelType: 't5';
  /** `d_kv`: the size of each head (inner size = heads × d_kv, independent of d_model). */
  readonly headDim: number;
  /** `d_ff`. */
  readonly intermediateSize: number;
  readonly numDecoderLayers: number;
  readonly relativeAttentionNumBuckets: number;
  readonly relativeAttentionMaxDistance: number;
  readonly dropoutRate: number;
  readonly layerNormEpsilon: number;
  /** From `feed_forward_proj`: "gated-gelu" (T5 v1.1) → gated, gelu_new; "relu" (original T5) → not gated. */
  readonly isGatedAct: boolean;
  readonly denseActFn: keyof typeof ACTIVATIONS;
  /**
   * Multiply the decoder output by d_model^-0.5 before lm_head: original T5 does, v1.1 does not.
   * transformers 5 stores it as `scale_decoder_outputs`; older configs said `tie_word_embeddings: false`.
   */
  readonly scaleDecoderOutputs: boolean;
  readonly decoderStartTokenId: number;
}

const ACTIVATION_NAMES = Object.keys(ACTIVATIONS) as (keyof typeof ACTIVATIONS)[];

/**
 * transformers' T5Config. As in transformers 5, lm_head is always tied to `shared` (a checkpoint that
 * stores a different lm_head unties it on load) and the output scaling is its own setting.
 */
export function parseT5Config(raw: RawConfig): T5Config {
  const fields = new ConfigFields(raw, 't5');
  const hiddenSize = fields.int('d_model', 512);
  const numHiddenLayers = fields.int('num_layers', 6);
  const feedForward = fields.string('feed_forward_proj', 'relu');
  const parts = feedForward.split('-');
  if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
    fields.invalid(
      `feed_forward_proj ${JSON.stringify(feedForward)} must be "ACT" or "gated-ACT" (e.g. "relu", "gated-gelu")`,
    );
  }
  const isGatedAct = parts[0] === 'gated' && parts.length === 2;
  const act = feedForward === 'gated-gelu' ? 'gelu_new' : parts.at(-1)!;
  if (!(ACTIVATION_NAMES as string[]).includes(act)) {
    fields.invalid(
      `feed_forward_proj ${JSON.stringify(feedForward)}: activation "${act}" is not supported; supported: ${ACTIVATION_NAMES.join(', ')}`,
    );
  }
  const padTokenId = fields.optionalTokenId('pad_token_id', 0);
  const scaleDecoderOutputs = fields.has('scale_decoder_outputs')
    ? fields.bool('scale_decoder_outputs', true)
    : fields.raw.tie_word_embeddings !== false;
  return {
    modelType: 't5',
    architectures: fields.stringList('architectures') ?? [],
    vocabSize: fields.int('vocab_size', 32128),
    hiddenSize,
    headDim: fields.int('d_kv', 64),
    intermediateSize: fields.int('d_ff', 2048),
    numHiddenLayers,
    numDecoderLayers: fields.optionalInt('num_decoder_layers', null) ?? numHiddenLayers,
    numAttentionHeads: fields.int('num_heads', 8),
    relativeAttentionNumBuckets: fields.int('relative_attention_num_buckets', 32, { min: 2 }),
    relativeAttentionMaxDistance: fields.int('relative_attention_max_distance', 128),
    dropoutRate: fields.number('dropout_rate', 0.1, { min: 0, max: 1 }),
    layerNormEpsilon: fields.number('layer_norm_epsilon', 1e-6, { min: 0 }),
    isGatedAct,
    denseActFn: act as keyof typeof ACTIVATIONS,
    scaleDecoderOutputs,
    tieWordEmbeddings: true,
    // T5 has initializer_factor (per-layer stds); a single N(0, factor · d_model^-0.5) stands in.
    initializerRange: fields.number('initializer_factor', 1, { min: 0 }) * hiddenSize ** -0.5,
    bosTokenId: fields.optionalTokenId('bos_token_id', null),
    eosTokenIds: fields.tokenIds('eos_token_id', [1]),
    padTokenId,
    decoderStartTokenId: fields.optionalTokenId('decoder_start_token_id', padTokenId) ?? 0,
    ...readClassification(fields),
    raw,
  };
}
