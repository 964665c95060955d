import { Parameter } from '@lorakit/nn';
import type { Dtype } from '@lorakit/tensor';
import type { BaseModelConfig } from './config/base-config.js';
import { type BertConfig, parseBertConfig } from './config/bert-config.js';
import type { RawConfig } from './config/fields.js';
import { type Gemma2Config, parseGemma2Config } from './config/gemma2-config.js';
import { type Gpt2Config, parseGpt2Config } from './config/gpt2-config.js';
import { type GptjConfig, parseGptjConfig } from './config/gptj-config.js';
import { type LlamaConfig, parseLlamaConfig } from './config/llama-config.js';
import { type Phi3Config, parsePhi3Config } from './config/phi3-config.js';
import { parseT5Config, type T5Config } from './config/t5-config.js';
import { ConfigError, ModelError } from './errors.js';
import { type InitializeOptions, initializeWeights } from './init.js';
import { BertForMaskedLM, BertForSequenceClassification, BertModel } from './models/bert.js';
import { Gemma2ForCausalLM, Gemma2ForSequenceClassification, Gemma2Model } from './models/gemma2.js';
import { GPT2LMHeadModel, GPT2Model } from './models/gpt2.js';
import { GPTJForCausalLM, GPTJForSequenceClassification, GPTJModel } from './models/gptj.js';
import { LlamaForCausalLM, LlamaModel } from './models/llama.js';
import { Phi3ForCausalLM, Phi3ForSequenceClassification, Phi3Model } from './models/phi3.js';
import {
  GPT2ForSequenceClassification,
  LlamaForSequenceClassification,
} from './models/sequence-classification.js';
import { T5EncoderModel, T5ForConditionalGeneration } from './models/t5/t5.js';
import type { PreTrainedModel } from './pretrained-model.js';

export type ModelConfig =
  | LlamaConfig
  | Gpt2Config
  | BertConfig
  | GptjConfig
  | Gemma2Config
  | Phi3Config
  | T5Config;

/** How one `model_type` reads its config and builds each of its architectures. */
export interface ModelTypeEntry<C extends BaseModelConfig = BaseModelConfig> {
  readonly parseConfig: (raw: RawConfig) => C;
  /** transformers class name → constructor. */
  readonly architectures: Readonly<Record<string, (config: C) => PreTrainedModel>>;
  /** Used when config.json names no architecture. */
  readonly defaultArchitecture: string;
}

const MODEL_TYPES = new Map<string, ModelTypeEntry>();

/** Adds a model type. Registering a name twice throws. */
export function registerModelType<C extends BaseModelConfig>(
  modelType: string,
  entry: ModelTypeEntry<C>,
): void {
  if (MODEL_TYPES.has(modelType)) {
    throw new ModelError(`[registerModelType] model_type "${modelType}" is already registered`);
  }
  if (!(entry.defaultArchitecture in entry.architectures)) {
    throw new ModelError(
      `[registerModelType] default architecture "${entry.defaultArchitecture}" of "${modelType}" is not among its architectures`,
    );
  }
  MODEL_TYPES.set(modelType, entry as unknown as ModelTypeEntry);
}

/** The registered `model_type`s, sorted. */
export function supportedModelTypes(): string[] {
  return [...MODEL_TYPES.keys()].sort();
}

function entryFor(modelType: unknown): ModelTypeEntry {
  const supported = supportedModelTypes().join(', ');
  if (modelType === undefined || modelType === null) {
    throw new ConfigError(`[config] config.json has no "model_type"; supported model types: ${supported}`);
  }
  const entry = typeof modelType === 'string' ? MODEL_TYPES.get(modelType) : undefined;
  if (!entry) {
    throw new ConfigError(
      `[config] model_type ${JSON.stringify(modelType)} is not supported; supported model types: ${supported}`,
    );
  }
  return entry;
}

/** Parses a config.json object: transformers' defaults, validated, camelCase; `raw` keeps the object. */
export function parseConfig(raw: unknown): ModelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`[config] config.json must hold a JSON object, received ${JSON.stringify(raw)}`);
  }
  const record = raw as RawConfig;
  return entryFor(record.model_type).parseConfig(record) as ModelConfig;
}

/** The architectures a model type can build. */
export function supportedArchitectures(modelType: string): string[] {
  return Object.keys(entryFor(modelType).architectures);
}

export interface CreateModelOptions extends InitializeOptions {
  /** transformers class name; default: the config's first `architectures` entry, else the type's default. */
  readonly architecture?: string;
  /** Random weights as transformers initializes them (default true); false leaves zeros (to load into). */
  readonly init?: boolean;
  /** Parameter dtype (default float32). */
  readonly dtype?: Dtype;
}

/** Builds a model from a parsed config or a config.json object. */
export function createModel(
  config: ModelConfig | RawConfig,
  options: CreateModelOptions = {},
): PreTrainedModel {
  const parsed = 'raw' in config && 'modelType' in config ? (config as ModelConfig) : parseConfig(config);
  const entry = entryFor(parsed.modelType);
  const architecture = options.architecture ?? parsed.architectures[0] ?? entry.defaultArchitecture;
  const build = entry.architectures[architecture];
  if (!build) {
    throw new ConfigError(
      `[createModel] architecture "${architecture}" is not supported for model_type "${parsed.modelType}"; supported: ${Object.keys(entry.architectures).join(', ')}`,
    );
  }
  const model = build(parsed);
  if (options.init ?? true) initializeWeights(model, options);
  if (options.dtype && options.dtype !== 'float32') castParameters(model, options.dtype);
  return model;
}

/** Converts every parameter to `dtype` (ties kept: each shared Parameter is converted once). */
export function castParameters(model: PreTrainedModel, dtype: Dtype): void {
  const converted = new Map<Parameter, Parameter>();
  for (const [path, module] of model.namedModules()) {
    for (const [name, parameter] of module.ownParameters()) {
      if (!parameter || parameter.dtype === dtype) continue;
      if (!converted.has(parameter)) {
        converted.set(parameter, new Parameter(parameter.detach().cast(dtype), parameter.requiresGrad));
      }
      model.setParameter(path ? `${path}.${name}` : name, converted.get(parameter)!);
    }
  }
}

const llamaFamily = (
  modelType: 'llama' | 'mistral' | 'qwen2',
  prefix: string,
): ModelTypeEntry<LlamaConfig> => ({
  parseConfig: (raw) => parseLlamaConfig(raw, modelType),
  architectures: {
    [`${prefix}ForCausalLM`]: (c) => new LlamaForCausalLM(c),
    [`${prefix}Model`]: (c) => new LlamaModel(c),
    [`${prefix}ForSequenceClassification`]: (c) => new LlamaForSequenceClassification(c),
  },
  defaultArchitecture: `${prefix}ForCausalLM`,
});

registerModelType('llama', llamaFamily('llama', 'Llama'));
registerModelType('mistral', llamaFamily('mistral', 'Mistral'));
registerModelType('qwen2', llamaFamily('qwen2', 'Qwen2'));
registerModelType<Gpt2Config>('gpt2', {
  parseConfig: parseGpt2Config,
  architectures: {
    GPT2LMHeadModel: (c) => new GPT2LMHeadModel(c),
    GPT2Model: (c) => new GPT2Model(c),
    GPT2ForSequenceClassification: (c) => new GPT2ForSequenceClassification(c),
  },
  defaultArchitecture: 'GPT2LMHeadModel',
});
registerModelType<BertConfig>('bert', {
  parseConfig: parseBertConfig,
  architectures: {
    BertModel: (c) => new BertModel(c),
    BertForMaskedLM: (c) => new BertForMaskedLM(c),
    BertForSequenceClassification: (c) => new BertForSequenceClassification(c),
  },
  defaultArchitecture: 'BertModel',
});
registerModelType<GptjConfig>('gptj', {
  parseConfig: parseGptjConfig,
  architectures: {
    GPTJForCausalLM: (c) => new GPTJForCausalLM(c),
    GPTJModel: (c) => new GPTJModel(c),
    GPTJForSequenceClassification: (c) => new GPTJForSequenceClassification(c),
  },
  defaultArchitecture: 'GPTJForCausalLM',
});
registerModelType<Gemma2Config>('gemma2', {
  parseConfig: parseGemma2Config,
  architectures: {
    Gemma2ForCausalLM: (c) => new Gemma2ForCausalLM(c),
    Gemma2Model: (c) => new Gemma2Model(c),
    Gemma2ForSequenceClassification: (c) => new Gemma2ForSequenceClassification(c),
  },
  defaultArchitecture: 'Gemma2ForCausalLM',
});
registerModelType<Phi3Config>('phi3', {
  parseConfig: parsePhi3Config,
  architectures: {
    Phi3ForCausalLM: (c) => new Phi3ForCausalLM(c),
    Phi3Model: (c) => new Phi3Model(c),
    Phi3ForSequenceClassification: (c) => new Phi3ForSequenceClassification(c),
  },
  defaultArchitecture: 'Phi3ForCausalLM',
});
registerModelType<T5Config>('t5', {
  parseConfig: parseT5Config,
  architectures: {
    T5ForConditionalGeneration: (c) => new T5ForConditionalGeneration(c),
    T5EncoderModel: (c) => new T5EncoderModel(c),
  },
  defaultArchitecture: 'T5ForConditionalGeneration',
});
