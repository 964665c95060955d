import {
  type LoraConfig,
  type LoraLayer,
  minimizeTargetModules,
  PeftModel,
  pythonRegex,
} from '@lorakit/lora';
import { noGrad, Tensor } from '@lorakit/tensor';
import { type EvaDataloader, isDataloader } from './dataloader.js';
import { EvaError } from './errors.js';
import { readEvaConfig } from './eva-config.js';
import {
  type EvaStateDict,
  type EvaStateDictOptions,
  getEvaStateDict,
  PEFT_MODEL_PREFIX,
} from './get-eva-state-dict.js';

/** Lists of this many names or more are minimized to dotted suffixes (PEFT's MIN_TARGET_MODULES_FOR_OPTIMIZATION). */
const MIN_TARGET_MODULES_FOR_OPTIMIZATION = 20;

export type InitializeEvaOptions = Omit<EvaStateDictOptions, 'peftConfig'>;

/** What EVA did to the adapter. Module names are the model's own (without `base_model.model.`). */
export interface EvaInitialization {
  /** The rank of every layer that keeps the adapter, in model order. */
  readonly ranks: Map<string, number>;
  /** Layers whose EVA rank is 0: their LoRA layer was removed. */
  readonly removed: string[];
  /** LoRA layers the state dict did not cover, re-initialized with init_lora_weights=true. */
  readonly reinitialized: string[];
  /** The adapter config's new rank_pattern and alpha_pattern (also written into the config). */
  readonly rankPattern: Record<string, number>;
  readonly alphaPattern: Record<string, number>;
}

/** A state dict given as a Map or a plain object of tensors (not a dataloader). */
function asStateDict(source: unknown): EvaStateDict | undefined {
  if (source instanceof Map) return source as EvaStateDict;
  if (source && typeof source === 'object' && !isDataloader(source)) {
    const entries = Object.entries(source);
    if (entries.every(([, value]) => value instanceof Tensor)) return new Map(entries as [string, Tensor][]);
  }
  return undefined;
}

/**
 * Initializes the adapter with EVA (PEFT's `initialize_lora_eva_weights`): computes the components with
 * {@link getEvaStateDict} from `dataloader` (or takes a state dict computed before), then loads them —
 * see {@link loadEvaStateDict}. The PeftModel must have been created with `init_lora_weights: 'eva'`
 * (B = 0, so the model is unchanged until training) and have one active adapter.
 *
 * @example
 * ```ts
 * const peft = getPeftModel(model, new LoraConfig({ r: 16, targetModules: 'all-linear', initLoraWeights: 'eva' }));
 * await initializeLoraEvaWeights(peft, batches); // batches: { inputIds, attentionMask, labels }[]
 * ```
 */
export async function initializeLoraEvaWeights(
  peft: PeftModel,
  source: EvaDataloader | EvaStateDict | Readonly<Record<string, Tensor>>,
  options: InitializeEvaOptions = {},
): Promise<EvaInitialization> {
  const adapterName = options.adapterName ?? 'default';
  checkEvaModel(peft, adapterName, 'initializeLoraEvaWeights');
  let stateDict = asStateDict(source);
  if (!stateDict) {
    if (!isDataloader(source)) {
      throw new EvaError(
        '[initializeLoraEvaWeights] dataloader is required if eva_state_dict is not provided: pass an iterable of batches or a Map of components',
      );
    }
    stateDict = await getEvaStateDict(peft, source, { ...options, adapterName });
  }
  return loadEvaStateDict(peft, stateDict, { adapterName });
}

function checkEvaModel(peft: PeftModel, adapterName: string, operation: string): LoraConfig {
  if (!(peft instanceof PeftModel)) throw new EvaError(`[${operation}] model must be a PeftModel`);
  if (peft.activeAdapters.length > 1) {
    throw new EvaError(
      `[${operation}] currently only works with a single active adapter, active: ${peft.activeAdapters.join(', ')}`,
    );
  }
  const config = peft.peftConfig.get(adapterName);
  if (!config) {
    throw new EvaError(
      `[${operation}] the model has no adapter named "${adapterName}"; adapters: ${[...peft.peftConfig.keys()].join(', ')}`,
    );
  }
  if (config.initLoraWeights !== 'eva') {
    throw new EvaError(
      `[${operation}] can only be used with init_lora_weights='eva'; adapter "${adapterName}" has init_lora_weights=${JSON.stringify(config.initLoraWeights)}`,
    );
  }
  return config;
}

/** The first pattern key matching `name` as a dotted suffix (PEFT's `get_pattern_key`). */
function patternKey(pattern: Readonly<Record<string, number>>, name: string): string | undefined {
  return Object.keys(pattern).find((key) => pythonRegex(`(.*\\.)?(${key})$`, 'start').test(name));
}

/**
 * Loads EVA components into the adapter (PEFT's `_load_eva_state_dict`). For each LoRA layer of the
 * adapter, with w [r′, in] its components:
 *
 * - r′ = 0: the LoRA layer is removed (the base layer goes back in its place);
 * - r′ ≠ r: the adapter is re-created with rank r′ (and α·r′/r with `adjust_scaling_factors`);
 * - lora_A = w, lora_B = 0 — the output is unchanged until training.
 *
 * Layers the state dict does not cover are re-initialized with init_lora_weights=true (a warning lists
 * them). The config gets the new rank_pattern / alpha_pattern (alphas scaled here are Python floats in
 * the JSON) and target_modules the layers that kept the adapter. Keys may carry PEFT's
 * `base_model.model.` prefix or not (PEFT silently loads nothing from a state dict computed on the plain
 * model); keys that match no LoRA layer are an error.
 */
export function loadEvaStateDict(
  peft: PeftModel,
  stateDict: EvaStateDict | Readonly<Record<string, Tensor>>,
  options: { adapterName?: string } = {},
): EvaInitialization {
  const adapterName = options.adapterName ?? 'default';
  const config = checkEvaModel(peft, adapterName, 'loadEvaStateDict');
  const eva = readEvaConfig(config.evaConfig);
  const components = new Map<string, Tensor>();
  for (const [key, value] of stateDict instanceof Map ? stateDict : Object.entries(stateDict)) {
    components.set(key.startsWith(PEFT_MODEL_PREFIX) ? key.slice(PEFT_MODEL_PREFIX.length) : key, value);
  }
  const layers = peft.loraLayers().filter(([, layer]) => layer.hasAdapter(adapterName));
  const layerNames = new Set(layers.map(([name]) => name));
  const unknown = [...components.keys()].filter((name) => !layerNames.has(name));
  if (unknown.length || components.size === 0) {
    throw new EvaError(
      `[loadEvaStateDict] ${components.size === 0 ? 'the EVA state dict is empty' : `EVA state dict keys ${unknown.join(', ')} match no LoRA layer of adapter "${adapterName}"`}; LoRA layers: ${[...layerNames].join(', ')}`,
    );
  }

  const kept: string[] = [];
  const removed: string[] = [];
  const reinitialized: string[] = [];
  const ranks = new Map<string, number>();
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  const floatAlphas: string[] = [];
  noGrad(() => {
    for (const [name, layer] of layers) {
      const rankKey = patternKey(config.rankPattern, name);
      const r = rankKey === undefined ? config.r : config.rankPattern[rankKey]!;
      const alphaKey = patternKey(config.alphaPattern, name);
      let alpha = alphaKey === undefined ? config.loraAlpha : config.alphaPattern[alphaKey]!;
      let alphaIsFloat = config.floatPaths.has(
        alphaKey === undefined ? 'lora_alpha' : `alpha_pattern.${alphaKey}`,
      );
      const w = components.get(name);
      let rank = r;
      if (w) {
        rank = w.rank === 2 ? w.shape[0]! : -1;
        const inFeatures = layer.factorParameters(adapterName).a.shape[1]!;
        if (w.rank !== 2 || w.shape[1] !== inFeatures) {
          throw new EvaError(
            `[loadEvaStateDict] components for ${name} have shape [${w.shape.join(', ')}]; expected [rank, ${inFeatures}]`,
          );
        }
        if (rank === 0) {
          removeAdapter(peft, name, layer, adapterName);
          removed.push(name);
          continue;
        }
        if (rank !== r) {
          if (eva.adjustScalingFactors) {
            alpha *= rank / r;
            alphaIsFloat = true;
          }
          recreate(layer, name, adapterName, rank, alpha, config);
        }
        const a = layer.factorParameters(adapterName).a;
        a.assign(w.cast(a.dtype));
        kept.push(name);
      } else {
        const defaultConfig = config.clone();
        defaultConfig.initLoraWeights = true;
        recreate(layer, name, adapterName, r, alpha, defaultConfig);
        reinitialized.push(name);
      }
      ranks.set(name, rank);
      if (rank !== config.r) rankPattern[name] = rank;
      if (alpha !== config.loraAlpha) {
        alphaPattern[name] = alpha;
        if (alphaIsFloat) floatAlphas.push(name);
      }
    }
  });

  let targetModules = [...kept, ...reinitialized];
  if (targetModules.length >= MIN_TARGET_MODULES_FOR_OPTIMIZATION) {
    const others = peft.model
      .namedModules()
      .map(([name]) => name)
      .filter((name) => name !== '' && !targetModules.includes(name));
    targetModules = minimizeTargetModules(targetModules, [...others, ...removed]);
  }
  config.targetModules = new Set(targetModules);
  config.rankPattern = rankPattern;
  config.alphaPattern = alphaPattern;
  for (const path of [...config.floatPaths])
    if (path.startsWith('alpha_pattern.')) config.floatPaths.delete(path);
  for (const name of floatAlphas) config.floatPaths.add(`alpha_pattern.${name}`);
  if (reinitialized.length) {
    peft.warnings.push(
      `the following layers were initialized with init_lora_weights=True because they were not found in the eva state_dict: ${JSON.stringify(reinitialized)}\ncurrently the following lora modules are not supported by EVA: Embedding, MultiheadAttention, Conv`,
    );
  }
  return { ranks, removed, reinitialized, rankPattern, alphaPattern };
}

/** Re-creates the adapter's factors at a new rank and restores its trainability (PEFT's update_layer). */
function recreate(
  layer: LoraLayer,
  name: string,
  adapterName: string,
  r: number,
  alpha: number,
  config: LoraConfig,
): void {
  layer.updateLayer({ name: adapterName, r, alpha, config, modulePath: name });
  layer.setAdapter(layer.activeAdapters, config.inferenceMode);
}

/**
 * Takes the adapter off a layer whose EVA rank is 0: the base layer goes back in place when no other
 * adapter uses the layer (PEFT replaces the layer whatever other adapters it holds).
 */
function removeAdapter(peft: PeftModel, name: string, layer: LoraLayer, adapterName: string): void {
  if (layer.adapterNames().length > 1) layer.deleteAdapter(adapterName);
  else peft.model.setSubmodule(name, layer.baseLayer);
}
