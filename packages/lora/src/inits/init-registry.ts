import type { AnyModule, Parameter } from '@lorakit/nn';
import { type Generator, getDefaultGenerator, type Tensor } from '@lorakit/tensor';
import { type InitLoraWeights, type LoraConfig, peftInitRewritesBase } from '../config/lora-config.js';
import { LoraConfigError, RegistryError } from '../errors.js';
import type { AdapterSpec, LoraLayer, LoraLayerKind } from '../layers/lora-layer.js';
import { initPackageHint } from './plugin-hints.js';

/**
 * What an init strategy sees for one adapter of one layer. Factors are the adapter's parameters in
 * PEFT's layouts: linear A [r, in], B [out, r]; conv A [r, Cin, …k], B [Cout, r/groups, 1…];
 * embedding A [r, vocab], B [dim, r]. Write them with `assign`.
 */
export interface InitContext {
  readonly layer: LoraLayer;
  readonly kind: LoraLayerKind;
  readonly adapterName: string;
  /** Dotted path of the layer in the model, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly modulePath: string;
  readonly r: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly config: LoraConfig;
  /** The value of `init_lora_weights` that selected this strategy (e.g. `'pissa_niter_4'`). */
  readonly value: InitLoraWeights;
  readonly loraA: Parameter;
  readonly loraB: Parameter;
  /** lora_B's bias when `lora_bias` is set. */
  readonly loraBBias: Parameter | null;
  /** GPT-2 Conv1D layers store the base weight [in, out]. */
  readonly fanInFanOut: boolean;
  /** The base weight (float32) in the base layer's own layout. */
  baseWeight(): Tensor;
  /** Replaces the base weight (residual inits: PiSSA, OLoRA, CorDA, LoftQ), in the base layer's layout. */
  setBaseWeight(weight: Tensor): void;
  /** The base layer's module (e.g. to tell a quantized base with `hasWeightAccess`). */
  readonly baseLayer: AnyModule;
  /** Random numbers for random inits: the one passed to getPeftModel/addAdapter, else the default. */
  readonly generator: Generator;
  /** Reports a warning the way PEFT would print it (collected on `PeftModel.warnings`). */
  warn(message: string): void;
}

/**
 * An `init_lora_weights` strategy. Strategies are registered by name; plugins (PiSSA, OLoRA, CorDA,
 * EVA, LoftQ, …) add theirs with {@link registerInitStrategy}. A value selects the first strategy whose
 * `matches` accepts it (default: the value equals the name).
 */
export interface InitStrategy {
  readonly name: string;
  /** Layer kinds the strategy initializes. On other kinds PEFT's fallbacks apply (see initializeAdapter). */
  readonly kinds: readonly LoraLayerKind[];
  matches?(value: InitLoraWeights): boolean;
  /**
   * True for inits that replace the base weight (PiSSA, OLoRA, CorDA, LoftQ): they also run when a saved
   * adapter is loaded, to rebuild the residual base (the factors are then overwritten by the file), as
   * PEFT's `from_pretrained` does.
   */
  readonly modifiesBaseWeight?: boolean;
  initialize(context: InitContext): void;
}

const registry = new Map<string, InitStrategy>();

export function registerInitStrategy(strategy: InitStrategy): void {
  if (registry.has(strategy.name)) {
    throw new RegistryError(
      `[registerInitStrategy] an init strategy named "${strategy.name}" is already registered; registered: ${[...registry.keys()].join(', ')}`,
    );
  }
  registry.set(strategy.name, strategy);
}

/** Removes a strategy (tests; replacing a built-in deliberately). */
export function unregisterInitStrategy(name: string): void {
  registry.delete(name);
}

export function registeredInitStrategies(): string[] {
  return [...registry.keys()];
}

export function findInitStrategy(value: InitLoraWeights): InitStrategy | undefined {
  for (const strategy of registry.values()) {
    if (strategy.matches ? strategy.matches(value) : value === strategy.name) return strategy;
  }
  return undefined;
}

/**
 * Initializes one adapter of one layer. PEFT's fallbacks: an embedding treats an unknown or
 * unsupported value like `true`; linear and conv layers reject it ("Unknown initialization").
 */
export function initializeAdapter(layer: LoraLayer, spec: AdapterSpec): void {
  const value = spec.config.initLoraWeights;
  let strategy = findInitStrategy(value);
  const hint = strategy ? undefined : initPackageHint(value);
  const remedy = hint ? `; it is provided by ${hint}: import '${hint}' first` : '';
  if (!strategy && spec.initWeights === false && peftInitRewritesBase(value) === false) {
    // Loading an adapter of PEFT's own non-rewriting inits (EVA, orthogonal …): the factors come from the
    // file and nothing touches the base, so no plugin is needed — as in PEFT.
    return;
  }
  if (!strategy && spec.initWeights === false && typeof value === 'string' && value !== 'lora_ga') {
    // Loading: an init that rewrote the base weight must run again to rebuild the residual base, and only
    // its registered strategy says whether it did — without one, refuse rather than guess.
    throw new LoraConfigError(
      `[lora] init_lora_weights='${value}' is not a registered init strategy, so loading this adapter cannot tell whether its init rewrote the base weight${remedy || '; import the package that registers it first'}; registered strategies: ${registeredInitStrategies().join(', ')}`,
    );
  }
  if (spec.initWeights === false && !(strategy?.modifiesBaseWeight && strategy.kinds.includes(layer.kind)))
    return;
  if (!strategy?.kinds.includes(layer.kind)) {
    if (layer.kind === 'embedding' || value === 'lora_ga') strategy = findInitStrategy(true);
    else {
      throw new LoraConfigError(
        `[lora] Unknown initialization init_lora_weights='${String(value)}' for ${layer.kind} layer ${spec.modulePath}; registered strategies: ${registeredInitStrategies().join(', ')}${strategy ? ` (${strategy.name} supports ${strategy.kinds.join(', ')} layers)` : remedy}`,
      );
    }
  }
  const factors = layer.factorParameters(spec.name);
  strategy!.initialize({
    layer,
    kind: layer.kind,
    adapterName: spec.name,
    modulePath: spec.modulePath,
    r: spec.r,
    alpha: spec.alpha,
    scaling: layer.scaling.get(spec.name)!,
    config: spec.config,
    value,
    loraA: factors.a,
    loraB: factors.b,
    loraBBias: factors.bBias,
    fanInFanOut: (layer as { fanInFanOut?: boolean }).fanInFanOut ?? false,
    baseWeight: () => layer.baseWeight(),
    setBaseWeight: (w) => layer.setBaseWeight(w),
    baseLayer: layer.baseLayer,
    generator: spec.generator ?? getDefaultGenerator(),
    warn: (message) => spec.warn?.(message),
  });
}
