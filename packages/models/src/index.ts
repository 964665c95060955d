export { type AttentionBias, causalAttentionBias, MASKED, paddingAttentionBias } from './attention/masks.js';
export { applyRotary, rotaryCosSin, rotateHalf } from './attention/rotary.js';
export { type AttentionOptions, scaledDotProductAttention } from './attention/sdpa.js';
export type { BaseModelConfig } from './config/base-config.js';
export type { BertConfig } from './config/bert-config.js';
export type { ProblemType } from './config/classification.js';
export type { RawConfig } from './config/fields.js';
export type { Gemma2Config } from './config/gemma2-config.js';
export type { Gpt2Config } from './config/gpt2-config.js';
export type { GptjConfig } from './config/gptj-config.js';
export type { AttentionLayerType, LlamaConfig, LlamaFamilyType } from './config/llama-config.js';
export type { Phi3Config } from './config/phi3-config.js';
export { ROPE_TYPES, type RopeConfig, ropeInverseFrequencies } from './config/rope.js';
export type { T5Config } from './config/t5-config.js';
export { CheckpointError, ConfigError, GenerationError, ModelError, TokenizerError } from './errors.js';
export { type GenerateOptions, generate } from './generation/generate.js';
export { type SamplingOptions, warpLogits } from './generation/sampling.js';
export { type InitializeOptions, initializeWeights } from './init.js';
export {
  type LoadModelOptions,
  type LoadReport,
  loadModel,
  loadModelWithReport,
  loadWeights,
  readConfig,
} from './io/load-model.js';
export { type SaveModelOptions, saveModel } from './io/save-model.js';
export {
  checkpointJson,
  type LazyTensor,
  parseShardSize,
  type WriteCheckpointOptions,
  writeCheckpoint,
} from './io/write-checkpoint.js';
export { EncoderDecoderCache, KVCache } from './kv-cache.js';
export { bceWithLogits, maskedLmLoss, seq2seqLmLoss, sequenceClassificationLoss } from './losses.js';
export {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertModel,
} from './models/bert.js';
export { type CausalLmOptions, DecoderForCausalLM } from './models/causal-lm.js';
export {
  Gemma2ForCausalLM,
  Gemma2ForSequenceClassification,
  Gemma2Model,
  GemmaRMSNorm,
} from './models/gemma2.js';
export { GPT2LMHeadModel, GPT2Model } from './models/gpt2.js';
export { GPTJForCausalLM, GPTJForSequenceClassification, GPTJModel } from './models/gptj.js';
export { LlamaForCausalLM, LlamaModel } from './models/llama.js';
export { Phi3ForCausalLM, Phi3ForSequenceClassification, Phi3Model } from './models/phi3.js';
export {
  DecoderForSequenceClassification,
  GPT2ForSequenceClassification,
  LlamaForSequenceClassification,
  lastTokenLogits,
} from './models/sequence-classification.js';
export { shiftRight, T5EncoderModel, T5ForConditionalGeneration } from './models/t5/t5.js';
export { type ModelInputs, type ModelOutput, PreTrainedModel } from './pretrained-model.js';
export {
  type CreateModelOptions,
  castParameters,
  createModel,
  type ModelConfig,
  type ModelTypeEntry,
  parseConfig,
  registerModelType,
  supportedArchitectures,
  supportedModelTypes,
} from './registry.js';
export {
  type BatchEncodeOptions,
  type DecodeOptions,
  type EncodeOptions,
  loadTokenizer,
  Tokenizer,
} from './tokenizer.js';
