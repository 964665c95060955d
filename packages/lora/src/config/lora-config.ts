import { LoraConfigError, UnsupportedFeatureError } from '../errors.js';
import { checkOptionTypes } from './config-schema.js';
import { PyFloat } from './python-json.js';

export type InitLoraWeights = boolean | string;
export type Bias = 'none' | 'all' | 'lora_only' | string;
export type TaskType =
  | 'SEQ_CLS'
  | 'SEQ_2_SEQ_LM'
  | 'CAUSAL_LM'
  | 'TOKEN_CLS'
  | 'QUESTION_ANS'
  | 'FEATURE_EXTRACTION';
export const TASK_TYPES: readonly TaskType[] = [
  'SEQ_CLS',
  'SEQ_2_SEQ_LM',
  'CAUSAL_LM',
  'TOKEN_CLS',
  'QUESTION_ANS',
  'FEATURE_EXTRACTION',
];

/** The PEFT version whose format and defaults lorakit follows (written as `peft_version`). */
export const PEFT_VERSION = '0.21.0';

/** A config object (CorDA, EVA, LoftQ …): plain JSON-able data, validated by the plugin that uses it. */
export type SubConfig = Record<string, unknown>;

/**
 * Every `LoraConfig` field, camelCase, with PEFT's defaults. `adapter_config.json` keys are the snake_case
 * names (see {@link FIELD_KEYS}); conversion happens only in `toPeftDict` / `fromPeftDict`.
 */
export interface LoraConfigOptions {
  r?: number;
  /** A list (exact name or dotted suffix), a regex string (full match), 'all-linear', or undefined (per-architecture default). */
  targetModules?: readonly string[] | string | null;
  excludeModules?: readonly string[] | string | null;
  loraAlpha?: number;
  loraDropout?: number;
  fanInFanOut?: boolean;
  bias?: Bias;
  useRslora?: boolean;
  modulesToSave?: readonly string[] | null;
  initLoraWeights?: InitLoraWeights;
  layersToTransform?: readonly number[] | number | null;
  layersPattern?: readonly string[] | string | null;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  loftqConfig?: SubConfig;
  evaConfig?: SubConfig | null;
  cordaConfig?: SubConfig | null;
  useDora?: boolean;
  layerReplication?: readonly (readonly [number, number])[] | null;
  loraBias?: boolean;
  taskType?: TaskType | null;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
  inferenceMode?: boolean;
  // Read and written for PEFT compatibility; rejected when set (lorakit does not implement them).
  megatronConfig?: SubConfig | null;
  megatronCore?: string | null;
  trainableTokenIndices?: readonly number[] | Record<string, readonly number[]> | null;
  loraGaConfig?: SubConfig | null;
  veloraConfig?: SubConfig | null;
  aloraInvocationTokens?: readonly number[] | null;
  useQalora?: boolean;
  qaloraGroupSize?: number;
  montecloraConfig?: SubConfig | null;
  targetParameters?: readonly string[] | null;
  useBdlora?: SubConfig | null;
  arrowConfig?: SubConfig | null;
  kasaConfig?: SubConfig | null;
  ensureWeightTying?: boolean;
  autoMapping?: Record<string, unknown> | null;
  peftVersion?: string;
}

/** camelCase field → the adapter_config.json key (all 41 keys PEFT 0.21 writes). */
export const FIELD_KEYS = {
  aloraInvocationTokens: 'alora_invocation_tokens',
  alphaPattern: 'alpha_pattern',
  arrowConfig: 'arrow_config',
  autoMapping: 'auto_mapping',
  baseModelNameOrPath: 'base_model_name_or_path',
  bias: 'bias',
  cordaConfig: 'corda_config',
  ensureWeightTying: 'ensure_weight_tying',
  evaConfig: 'eva_config',
  excludeModules: 'exclude_modules',
  fanInFanOut: 'fan_in_fan_out',
  inferenceMode: 'inference_mode',
  initLoraWeights: 'init_lora_weights',
  kasaConfig: 'kasa_config',
  layerReplication: 'layer_replication',
  layersPattern: 'layers_pattern',
  layersToTransform: 'layers_to_transform',
  loftqConfig: 'loftq_config',
  loraAlpha: 'lora_alpha',
  loraBias: 'lora_bias',
  loraDropout: 'lora_dropout',
  loraGaConfig: 'lora_ga_config',
  megatronConfig: 'megatron_config',
  megatronCore: 'megatron_core',
  modulesToSave: 'modules_to_save',
  montecloraConfig: 'monteclora_config',
  peftType: 'peft_type',
  peftVersion: 'peft_version',
  qaloraGroupSize: 'qalora_group_size',
  r: 'r',
  rankPattern: 'rank_pattern',
  revision: 'revision',
  targetModules: 'target_modules',
  targetParameters: 'target_parameters',
  taskType: 'task_type',
  trainableTokenIndices: 'trainable_token_indices',
  useBdlora: 'use_bdlora',
  useDora: 'use_dora',
  useQalora: 'use_qalora',
  useRslora: 'use_rslora',
  veloraConfig: 'velora_config',
} as const;

/** Fields PEFT has that lorakit reads and writes but does not implement: setting them is an error. */
const UNSUPPORTED: readonly [keyof LoraConfigOptions, string][] = [
  ['megatronConfig', 'Megatron-LM parallel layers (megatron_config)'],
  ['loraGaConfig', 'LoRA-GA (lora_ga_config)'],
  ['veloraConfig', 'the VeLoRA variant (velora_config)'],
  ['aloraInvocationTokens', 'activated LoRA (alora_invocation_tokens)'],
  ['useQalora', 'QA-LoRA (use_qalora)'],
  ['montecloraConfig', 'the MonteCLoRA variant (monteclora_config)'],
  ['targetParameters', 'targeting bare parameters (target_parameters)'],
  ['useBdlora', 'the BD-LoRA variant (use_bdlora)'],
  ['arrowConfig', 'the Arrow variant (arrow_config)'],
  ['kasaConfig', 'the KaSA variant (kasa_config)'],
  ['ensureWeightTying', 'ensure_weight_tying'],
];

/**
 * Whether one of PEFT 0.21's own `init_lora_weights` values rewrites the base weight, as PEFT's
 * `update_layer` decides it: PiSSA (`pissa…`), CorDA (`corda…`), OLoRA (any case) and LoftQ do, and run
 * again when PEFT loads such an adapter; `true`, `false`, `gaussian`, `eva` and `orthogonal` do not, so
 * PEFT loads their adapters with nothing to re-run. `undefined` for a value PEFT does not know (a
 * plugin's own init: only its registered strategy can say). Loading reads this to accept an adapter
 * whose non-rewriting init comes from a plugin that is not imported.
 */
export function peftInitRewritesBase(value: InitLoraWeights): boolean | undefined {
  if (typeof value === 'boolean') return false;
  if (value === 'gaussian' || value === 'eva' || value === 'orthogonal') return false;
  if (value.startsWith('pissa') || value.startsWith('corda') || value.toLowerCase() === 'olora') return true;
  return value === 'loftq' ? true : undefined;
}

/** Non-default values of these are warnings in PEFT; lorakit reports them through `warnings`. */
const INIT_STRINGS_WITH_PATTERN_WARNING = /^(pissa|olora|corda|lora_ga)/;

/**
 * The configuration of one LoRA adapter, with PEFT's fields, defaults and validation
 * (`LoraConfig.__post_init__` of PEFT 0.21). Checks PEFT makes later (r > 0, an unknown bias) are made
 * where PEFT makes them, at injection.
 *
 * @example
 * ```ts
 * const config = new LoraConfig({ r: 16, loraAlpha: 32, targetModules: ['q_proj', 'v_proj'], loraDropout: 0.05 });
 * ```
 */
export class LoraConfig {
  r: number;
  targetModules: Set<string> | string | null;
  excludeModules: Set<string> | string | null;
  loraAlpha: number;
  loraDropout: number;
  fanInFanOut: boolean;
  bias: Bias;
  useRslora: boolean;
  modulesToSave: string[] | null;
  initLoraWeights: InitLoraWeights;
  layersToTransform: number[] | number | null;
  layersPattern: string[] | string | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  loftqConfig: SubConfig;
  evaConfig: SubConfig | null;
  cordaConfig: SubConfig | null;
  useDora: boolean;
  layerReplication: [number, number][] | null;
  loraBias: boolean;
  taskType: TaskType | null;
  baseModelNameOrPath: string | null;
  revision: string | null;
  inferenceMode: boolean;
  megatronConfig: SubConfig | null;
  megatronCore: string;
  trainableTokenIndices: readonly number[] | Record<string, readonly number[]> | null;
  loraGaConfig: SubConfig | null;
  veloraConfig: SubConfig | null;
  aloraInvocationTokens: readonly number[] | null;
  useQalora: boolean;
  qaloraGroupSize: number;
  montecloraConfig: SubConfig | null;
  targetParameters: readonly string[] | null;
  useBdlora: SubConfig | null;
  arrowConfig: SubConfig | null;
  kasaConfig: SubConfig | null;
  ensureWeightTying: boolean;
  autoMapping: Record<string, unknown> | null;
  peftVersion: string;
  readonly peftType = 'LORA';
  /** Warnings PEFT would print while building this config (and later injection). */
  readonly warnings: string[] = [];
  /** Paths (like `alpha_pattern.foo` or `lora_alpha`) whose numbers are Python floats in the JSON. */
  readonly floatPaths = new Set<string>(['lora_dropout']);

  constructor(options: LoraConfigOptions = {}) {
    checkOptionTypes(options, FIELD_KEYS);
    const o = options;
    this.r = o.r ?? 8;
    this.targetModules = Array.isArray(o.targetModules)
      ? new Set(o.targetModules)
      : ((o.targetModules as string | null | undefined) ?? null);
    this.excludeModules = Array.isArray(o.excludeModules)
      ? new Set(o.excludeModules)
      : ((o.excludeModules as string | null | undefined) ?? null);
    this.loraAlpha = o.loraAlpha ?? 8;
    this.loraDropout = o.loraDropout ?? 0;
    this.fanInFanOut = o.fanInFanOut ?? false;
    this.bias = o.bias ?? 'none';
    this.useRslora = o.useRslora ?? false;
    this.modulesToSave = o.modulesToSave ? [...o.modulesToSave] : null;
    this.initLoraWeights = o.initLoraWeights ?? true;
    this.layersToTransform = Array.isArray(o.layersToTransform)
      ? [...o.layersToTransform]
      : ((o.layersToTransform as number | null | undefined) ?? null);
    this.layersPattern = Array.isArray(o.layersPattern)
      ? [...o.layersPattern]
      : ((o.layersPattern as string | null | undefined) ?? null);
    this.rankPattern = { ...(o.rankPattern ?? {}) };
    this.alphaPattern = { ...(o.alphaPattern ?? {}) };
    this.loftqConfig = { ...(o.loftqConfig ?? {}) };
    this.evaConfig = o.evaConfig ?? null;
    this.cordaConfig = o.cordaConfig ?? null;
    this.useDora = o.useDora ?? false;
    this.layerReplication = o.layerReplication
      ? o.layerReplication.map(([a, b]) => [a, b] as [number, number])
      : null;
    this.loraBias = o.loraBias ?? false;
    this.taskType = o.taskType ?? null;
    this.baseModelNameOrPath = o.baseModelNameOrPath ?? null;
    this.revision = o.revision ?? null;
    this.inferenceMode = o.inferenceMode ?? false;
    this.megatronConfig = o.megatronConfig ?? null;
    this.megatronCore = o.megatronCore ?? 'megatron.core';
    this.trainableTokenIndices = o.trainableTokenIndices ?? null;
    this.loraGaConfig = o.loraGaConfig ?? null;
    this.veloraConfig = o.veloraConfig ?? null;
    this.aloraInvocationTokens = o.aloraInvocationTokens ?? null;
    this.useQalora = o.useQalora ?? false;
    this.qaloraGroupSize = o.qaloraGroupSize ?? 16;
    this.montecloraConfig = o.montecloraConfig ?? null;
    this.targetParameters = o.targetParameters ?? null;
    this.useBdlora = o.useBdlora ?? null;
    this.arrowConfig = o.arrowConfig ?? null;
    this.kasaConfig = o.kasaConfig ?? null;
    this.ensureWeightTying = o.ensureWeightTying ?? false;
    this.autoMapping = o.autoMapping ?? null;
    this.peftVersion = o.peftVersion ?? PEFT_VERSION;
    if (!Number.isInteger(this.loraAlpha)) this.floatPaths.add('lora_alpha');
    this.validate();
  }

  /** PEFT's `__post_init__` checks, in PEFT's order, with PEFT's messages. */
  private validate(): void {
    if (this.taskType !== null && !TASK_TYPES.includes(this.taskType)) {
      throw new LoraConfigError(
        `[LoraConfig] Invalid task type: '${this.taskType}'. Must be one of the following task types: ${TASK_TYPES.join(', ')}.`,
      );
    }
    if (typeof this.r !== 'number' || !Number.isFinite(this.r)) {
      throw new LoraConfigError(`[LoraConfig] r must be a number, received ${JSON.stringify(this.r)}`);
    }
    if (typeof this.loraDropout !== 'number' || this.loraDropout < 0 || this.loraDropout > 1) {
      throw new LoraConfigError(
        `[LoraConfig] lora_dropout must be a number in [0, 1], received ${JSON.stringify(this.loraDropout)}`,
      );
    }
    if (this.targetParameters !== null && !Array.isArray(this.targetParameters)) {
      throw new LoraConfigError('[LoraConfig] `target_parameters` must be a list of strings or None.');
    }
    if (typeof this.targetModules === 'string' && this.layersToTransform !== null) {
      throw new LoraConfigError(
        '[LoraConfig] `layers_to_transform` cannot be used when `target_modules` is a str.',
      );
    }
    if (typeof this.targetModules === 'string' && this.layersPattern !== null) {
      throw new LoraConfigError(
        '[LoraConfig] `layers_pattern` cannot be used when `target_modules` is a str.',
      );
    }
    const patternSet = Array.isArray(this.layersPattern)
      ? this.layersPattern.length > 0
      : Boolean(this.layersPattern);
    if (patternSet && this.layersToTransform === null) {
      throw new LoraConfigError(
        '[LoraConfig] When `layers_pattern` is specified, `layers_to_transform` must also be specified. ',
      );
    }
    if (this.useDora && this.megatronConfig) {
      throw new LoraConfigError(
        '[LoraConfig] DoRA does not support megatron_core, please set `use_dora=False`.',
      );
    }
    if (this.initLoraWeights === 'loftq') {
      if (Object.keys(this.loftqConfig).length === 0) {
        throw new LoraConfigError(
          "[LoraConfig] `loftq_config` must be specified when `init_lora_weights` is 'loftq'.",
        );
      }
    } else if (Object.keys(this.loftqConfig).length > 0) {
      this.loftqConfig = {};
      this.warnings.push(
        "`loftq_config` specified but will be ignored when `init_lora_weights` is not 'loftq'.",
      );
    } else if (this.initLoraWeights === 'eva' && this.evaConfig === null) {
      this.warnings.push(
        "`init_lora_weights` is 'eva' but `eva_config` is not specified. Using default EVA config.",
      );
      this.evaConfig = {};
    } else if (this.initLoraWeights !== 'eva' && this.evaConfig !== null) {
      this.warnings.push("`eva_config` specified but will be ignored when `init_lora_weights` is not 'eva'.");
    } else if (this.initLoraWeights === 'corda' && this.cordaConfig === null) {
      this.warnings.push(
        "`init_lora_weights` is 'corda' but `corda_config` is not specified. Using default CorDA config.",
      );
      this.cordaConfig = {};
    } else if (this.initLoraWeights !== 'corda' && this.cordaConfig !== null) {
      this.warnings.push(
        "`corda_config` specified but will be ignored when `init_lora_weights` is not 'corda'.",
      );
    }
    if (this.loraBias) {
      if (this.initLoraWeights !== true && this.initLoraWeights !== false) {
        throw new LoraConfigError(
          `[LoraConfig] The argument lora_bias=True is only supported with init_lora_weights=True or False, got init_lora_weights=${this.initLoraWeights} instead.`,
        );
      }
      if (this.useDora) {
        throw new LoraConfigError(
          '[LoraConfig] The argument lora_bias=True is not supported for DoRA, please pass use_dora=False',
        );
      }
    }
    if (
      this.useRslora &&
      (Object.keys(this.rankPattern).length > 0 || Object.keys(this.alphaPattern).length > 0) &&
      typeof this.initLoraWeights === 'string' &&
      INIT_STRINGS_WITH_PATTERN_WARNING.test(this.initLoraWeights)
    ) {
      this.warnings.push(
        "Using Rank-Stabilized LoRA with rank_pattern/alpha_pattern and post-training conversion of modified base weights (PiSSA, CorDA, OLoRA) means that you won't be able to pass `path_initial_model_for_weight_conversion` to `save_pretrained` to restore the initial values of the base weights; if you intend to do this, please ensure not to use rslora or rank_pattern/alpha_pattern.",
      );
    }
    for (const [field, what] of UNSUPPORTED) {
      const value = this[field as keyof this];
      const set =
        field === 'ensureWeightTying' || field === 'useQalora'
          ? value === true
          : value !== null && value !== undefined;
      if (set) {
        throw new UnsupportedFeatureError(
          `[LoraConfig] lorakit does not support ${what}; ${FIELD_KEYS[field as keyof typeof FIELD_KEYS]} must be ${field === 'ensureWeightTying' || field === 'useQalora' ? 'false' : 'null'}`,
        );
      }
    }
  }

  /** scaling = α/r, or α/√r with rsLoRA. */
  scalingFor(r: number, alpha: number): number {
    return this.useRslora ? alpha / Math.sqrt(r) : alpha / r;
  }

  /** A copy (configs are per adapter; injection may rewrite target_modules and fan_in_fan_out). */
  clone(): LoraConfig {
    const copy = new LoraConfig(this.toOptions());
    for (const p of this.floatPaths) copy.floatPaths.add(p);
    copy.warnings.length = 0;
    return copy;
  }

  toOptions(): LoraConfigOptions {
    const options: Record<string, unknown> = {};
    for (const field of Object.keys(FIELD_KEYS) as (keyof typeof FIELD_KEYS)[]) {
      if (field === 'peftType') continue;
      const v = this[field as keyof this];
      options[field] = v instanceof Set ? [...v] : v;
    }
    return options as LoraConfigOptions;
  }

  /** The dict PEFT writes (snake_case keys; floats wrapped so they print as Python floats). */
  toPeftDict(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [field, key] of Object.entries(FIELD_KEYS)) {
      let value: unknown = field === 'peftType' ? this.peftType : this[field as keyof this];
      if (value instanceof Set) value = [...value];
      out[key] = floatify(key, value, this.floatPaths);
    }
    return out;
  }

  /** Builds a config from an adapter_config.json dict (snake_case). Unknown keys are dropped with a warning. */
  static fromPeftDict(dict: Record<string, unknown>): LoraConfig {
    if (dict.peft_type !== undefined && dict.peft_type !== 'LORA') {
      throw new LoraConfigError(
        `[LoraConfig] adapter_config.json has peft_type ${JSON.stringify(dict.peft_type)}; lorakit loads LORA adapters only`,
      );
    }
    const byKey = new Map(Object.entries(FIELD_KEYS).map(([field, key]) => [key as string, field]));
    const options: Record<string, unknown> = {};
    const floatPaths = new Set<string>(['lora_dropout']);
    const unknown: string[] = [];
    for (const [key, raw] of Object.entries(dict)) {
      if (key === 'runtime_config') continue;
      const field = byKey.get(key);
      if (!field) {
        unknown.push(key);
        continue;
      }
      if (field === 'peftType') continue;
      options[field] = collectFloats(key, raw, floatPaths);
    }
    const config = new LoraConfig(options as LoraConfigOptions);
    for (const p of floatPaths) config.floatPaths.add(p);
    if (unknown.length) {
      config.warnings.push(
        `Unexpected keyword arguments ${JSON.stringify(unknown)} for class LoraConfig, these are ignored.`,
      );
    }
    if ('runtime_config' in dict) {
      config.warnings.push(
        'The configuration file contains a `runtime_config` key. This is ignored. Runtime configurations are only valid at runtime.',
      );
    }
    return config;
  }
}

function floatify(path: string, value: unknown, floats: ReadonlySet<string>): unknown {
  if (typeof value === 'number')
    return floats.has(path) || !Number.isInteger(value) ? new PyFloat(value) : value;
  if (Array.isArray(value)) return value.map((v, i) => floatify(`${path}.${i}`, v, floats));
  if (value && typeof value === 'object' && !(value instanceof PyFloat)) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, floatify(`${path}.${k}`, v, floats)]),
    );
  }
  return value;
}

function collectFloats(path: string, value: unknown, floats: Set<string>): unknown {
  if (value instanceof PyFloat) {
    floats.add(path);
    return value.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => collectFloats(`${path}.${i}`, v, floats));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, collectFloats(`${path}.${k}`, v, floats)]),
    );
  }
  return value;
}
