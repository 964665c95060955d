import { type AnyModule, Module, type Parameter } from '@lorakit/nn';
import { type Generator, noGrad } from '@lorakit/tensor';
import { LoraConfig, type LoraConfigOptions } from '../config/lora-config.js';
import { AdapterError, listNames, MergeError } from '../errors.js';
import { BASE_ADAPTER, withAdapterNames } from '../layers/adapter-context.js';
import { LoraLayer } from '../layers/lora-layer.js';
import { addWeightedAdapter } from '../merges/add-weighted-adapter.js';
import type { WeightedMergeOptions } from '../merges/merge-registry.js';
import { injectAdapter } from './inject.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';

/** Heads PEFT's task wrappers add to modules_to_save (PeftModelForSequenceClassification etc.). */
const TASK_HEADS: Readonly<Record<string, readonly string[]>> = {
  SEQ_CLS: ['classifier', 'score'],
  TOKEN_CLS: ['classifier', 'score'],
  QUESTION_ANS: ['qa_outputs'],
};

/** PEFT's `LoraModel`: holds the user's model as `model` so parameter names get PEFT's prefixes. */
export class LoraModel extends Module<unknown[], unknown> {
  constructor(model: AnyModule) {
    super();
    this.registerModule('model', model);
  }
  forward(...args: unknown[]): unknown {
    return this.child('model').call(...args);
  }
}

export interface AddAdapterOptions {
  /** Create the factors without initializing them (weights are loaded next). */
  readonly initWeights?: boolean;
  /** Random numbers for the init strategy (default: the default generator). */
  readonly generator?: Generator;
  /**
   * PEFT's `autocast_adapter_dtype` (default true): on float16/bfloat16 base layers the adapter's
   * tensors are rounded to the base dtype after init and then kept in float32; false keeps them in the
   * base dtype.
   */
  readonly autocastAdapterDtype?: boolean;
}

export interface MergeOptions {
  readonly safeMerge?: boolean;
  /** Adapters to merge (default: the active ones). */
  readonly adapterNames?: readonly string[];
  /** Called after each layer (merge-and-unload progress). */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * A model with LoRA adapters (PEFT's `PeftModel` + `LoraModel`). Parameter names carry PEFT's
 * `base_model.model.` prefix. Create one with {@link getPeftModel} or `loadAdapter`.
 */
export class PeftModel extends Module<unknown[], unknown> {
  readonly peftConfig = new Map<string, LoraConfig>();
  /** Warnings PEFT would print (config adjustments, ignored options). */
  readonly warnings: string[] = [];
  #activeAdapters: string[] = [];
  #targeted: string[] = [];

  constructor(model: AnyModule) {
    super();
    this.registerModule('base_model', new LoraModel(model));
  }

  /** The user's model, with LoRA layers inside. */
  get model(): AnyModule {
    return this.child('base_model').child('model');
  }

  /** Active adapter names, in order (several can be active at once). */
  get activeAdapters(): string[] {
    return [...this.#activeAdapters];
  }

  /** The first active adapter (PEFT's `active_adapter`). */
  get activeAdapter(): string | undefined {
    return this.#activeAdapters[0];
  }

  /** Modules targeted by any adapter, in insertion order. */
  get targetedModuleNames(): string[] {
    return [...this.#targeted];
  }

  loraLayers(): [string, LoraLayer][] {
    return this.model.namedModules().filter(([, m]) => m instanceof LoraLayer) as [string, LoraLayer][];
  }

  wrappers(): [string, ModulesToSaveWrapper][] {
    return this.model.namedModules().filter(([, m]) => m instanceof ModulesToSaveWrapper) as [
      string,
      ModulesToSaveWrapper,
    ][];
  }

  /**
   * Adds an adapter. The first adapter becomes active and trainable and freezes the base model; later
   * ones are added inactive and frozen, and existing trainability is left as it was (PEFT 0.21).
   */
  addAdapter(
    name: string,
    config: LoraConfig | LoraConfigOptions,
    options: AddAdapterOptions = {},
  ): LoraConfig {
    if (this.peftConfig.has(name))
      throw new AdapterError(`[lora] Adapter with name '${name}' already exists.`);
    if (typeof name !== 'string' || name.length === 0 || name.includes('.')) {
      throw new AdapterError(
        `[lora] adapter name must be a non-empty string without dots, received ${JSON.stringify(name)}`,
      );
    }
    if ('lora_'.includes(name)) {
      this.warnings.push(
        `Adapter name "${name}" should not be contained in the prefix "lora_". This may lead to reinitialization of the adapter weights during loading.`,
      );
    }
    const adapterConfig = config instanceof LoraConfig ? config.clone() : new LoraConfig(config);
    this.warnings.push(...adapterConfig.warnings);
    const heads = TASK_HEADS[adapterConfig.taskType ?? ''];
    if (heads) adapterConfig.modulesToSave = [...new Set([...(adapterConfig.modulesToSave ?? []), ...heads])];
    const others = [...this.peftConfig.values()];
    if (adapterConfig.bias !== 'none' && others.some((c) => c.bias !== 'none')) {
      throw new AdapterError(
        "[lora] LoraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters.",
      );
    }
    const first = this.peftConfig.size === 0;
    const snapshot = first ? undefined : new Map(this.parameters().map((p) => [p, p.requiresGrad]));
    this.peftConfig.set(name, adapterConfig);
    let targeted: string[];
    try {
      targeted = injectAdapter(this.model, adapterConfig, {
        adapterName: name,
        initWeights: options.initWeights ?? true,
        warn: (m) => this.warnings.push(m),
        generator: options.generator,
      }).targeted;
    } catch (error) {
      this.peftConfig.delete(name);
      this.#rollback(name);
      throw error;
    }
    for (const t of targeted) if (!this.#targeted.includes(t)) this.#targeted.push(t);
    const autocast = options.autocastAdapterDtype ?? true;
    for (const [, layer] of this.loraLayers())
      if (layer.hasAdapter(name)) layer.castAdapterDtype(name, autocast);
    if (first) {
      this.#activeAdapters = [name];
      this.#markOnlyAdaptersTrainable(adapterConfig);
    }
    this.#applyActive(adapterConfig.inferenceMode);
    if (snapshot) {
      for (const [p, flag] of snapshot) p.requiresGrad = flag;
      for (const [, layer] of this.loraLayers())
        if (layer.hasAdapter(name)) for (const p of layer.adapterParameters(name)) p.requiresGrad = false;
    }
    return adapterConfig;
  }

  /**
   * Removes an adapter that failed to load: its config, its LoRA layers (a layer left without adapters
   * is replaced by its base layer again) and its modules_to_save copies, so the wrapped model is as it
   * was before `addAdapter`. The active adapters are those of before.
   */
  discardAdapter(name: string): void {
    this.peftConfig.delete(name);
    this.#rollback(name);
    this.#activeAdapters = this.#activeAdapters.filter((a) => a !== name);
    this.#targeted = this.#targeted.filter((t) =>
      this.loraLayers().some(([path, layer]) => path === t && layer.adapterNames().length > 0),
    );
  }

  #rollback(name: string): void {
    for (const [, layer] of this.loraLayers()) if (layer.hasAdapter(name)) layer.deleteAdapter(name);
    for (const [path, layer] of this.loraLayers())
      if (layer.adapterNames().length === 0) this.model.setSubmodule(path, layer.baseLayer);
    for (const [path, wrapper] of this.wrappers()) {
      if (wrapper.adapters.has(name)) wrapper.deleteAdapter(name);
      if (wrapper.adapters.size === 0) this.model.setSubmodule(path, wrapper.original);
    }
  }

  /** PEFT's `_mark_only_adapters_as_trainable` plus the `bias` option. */
  #markOnlyAdaptersTrainable(config: LoraConfig): void {
    const adapterParams = new Set<Parameter>();
    for (const [, layer] of this.loraLayers())
      for (const a of layer.adapterNames()) for (const p of layer.adapterParameters(a)) adapterParams.add(p);
    for (const [, wrapper] of this.wrappers())
      for (const a of wrapper.adapters) for (const p of wrapper.copyFor(a).parameters()) adapterParams.add(p);
    for (const p of this.parameters()) if (!adapterParams.has(p)) p.requiresGrad = false;
    if (config.bias === 'all') {
      for (const [name, p] of this.namedParameters())
        if (name === 'bias' || name.endsWith('.bias')) p.requiresGrad = true;
    } else if (config.bias.endsWith('_only')) {
      for (const [, layer] of this.loraLayers()) {
        const bias = layer.baseLayer.ownParameters().find(([n]) => n === 'bias')?.[1];
        if (bias) bias.requiresGrad = true;
      }
    }
  }

  #applyActive(inferenceMode: boolean): void {
    for (const [, layer] of this.loraLayers()) {
      if (layer.merged && layer.activeAdapters.join() !== this.#activeAdapters.join()) {
        this.warnings.push('Adapter cannot be set when the model is merged. Unmerging the model first.');
        layer.unmerge();
      }
      layer.setAdapter(this.#activeAdapters, inferenceMode);
    }
    for (const [, wrapper] of this.wrappers())
      wrapper.setAdapter(
        this.#activeAdapters.filter((a) => wrapper.adapters.has(a)).slice(0, 1),
        inferenceMode,
      );
  }

  /** Activates one or several adapters (their LoRA parameters become trainable unless inferenceMode). */
  setAdapter(names: string | readonly string[], options: { inferenceMode?: boolean } = {}): void {
    const list = typeof names === 'string' ? [names] : [...names];
    for (const name of list) {
      if (!this.peftConfig.has(name)) {
        throw new AdapterError(
          `[lora] Adapter ${name} not found. Adapters: ${listNames([...this.peftConfig.keys()])}`,
        );
      }
    }
    this.#activeAdapters = list;
    this.#applyActive(options.inferenceMode ?? false);
  }

  /** Removes an adapter everywhere. Merged adapters must be unmerged first. */
  deleteAdapter(name: string): void {
    if (!this.peftConfig.has(name)) throw new AdapterError(`[lora] Adapter ${name} does not exist`);
    if (this.loraLayers().some(([, l]) => l.mergedAdapters.includes(name))) {
      throw new AdapterError(
        `[lora] Cannot delete adapter(s) ['${name}'] while they are merged. Please unmerge them first.`,
      );
    }
    this.peftConfig.delete(name);
    for (const [, layer] of this.loraLayers()) if (layer.hasAdapter(name)) layer.deleteAdapter(name);
    for (const [, wrapper] of this.wrappers()) if (wrapper.adapters.has(name)) wrapper.deleteAdapter(name);
    const remaining = this.#activeAdapters.filter((a) => a !== name);
    if (remaining.length === 0 && this.#activeAdapters.includes(name)) {
      const first = this.loraLayers()[0]?.[1].activeAdapters ?? [];
      this.#activeAdapters = [...first];
      if (first.length)
        this.warnings.push(
          `Adapter ${name} was active which is now deleted. Setting active adapter to ${first[0]}.`,
        );
    } else this.#activeAdapters = remaining;
  }

  /** Turns adapters off (base model output) or on again for every layer. */
  enableAdapters(enabled: boolean): void {
    if (!enabled) {
      for (const config of this.peftConfig.values()) {
        if (config.bias !== 'none') {
          this.warnings.push(
            `Careful, disabling adapter layers with bias configured to be '${config.bias}' does not produce the same output as the base model would without adaption.`,
          );
        }
      }
    }
    for (const [, layer] of this.loraLayers()) layer.enableAdapters(enabled);
    for (const [, wrapper] of this.wrappers()) wrapper.enableAdapters(enabled);
  }

  get adaptersDisabled(): boolean {
    return this.loraLayers().some(([, l]) => l.disabled);
  }

  /** Runs `fn` with adapters disabled, then restores the previous state (PEFT's `disable_adapter()` context). */
  withAdaptersDisabled<T>(fn: () => T): T {
    const wasDisabled = this.adaptersDisabled;
    this.enableAdapters(false);
    try {
      return fn();
    } finally {
      if (!wasDisabled) this.enableAdapters(true);
    }
  }

  /**
   * Safe merge checks every layer before any is changed: each layer is merged with PEFT's NaN/Inf check
   * and its base parameters (and DoRA's merge cache) are put back bit for bit, so a broken module fails the whole merge with the
   * model untouched, and the error names the module.
   */
  #checkSafeMerge(layers: readonly [string, LoraLayer][], adapterNames?: readonly string[]): void {
    noGrad(() => {
      for (const [path, layer] of layers) {
        const params = layer.baseLayer.parameters();
        const saved = params.map((p) => p.clone());
        const mergedBefore = layer.mergedAdapters.length;
        const cacheBefore = new Map(layer.mergeCache);
        try {
          layer.merge({ safeMerge: true, adapterNames });
        } catch (error) {
          if (!(error instanceof MergeError)) throw error;
          const adapter = /The adapter (.+) seems to be broken/.exec(error.message)?.[1];
          throw new MergeError(
            adapter === undefined
              ? `[lora] safe merge of ${path} failed, nothing was merged: ${error.message.replace(/^\[lora\] /, '')}`
              : `[lora] NaNs detected in the merged weights of ${path}. The adapter ${adapter} seems to be broken; nothing was merged`,
            { cause: error },
          );
        } finally {
          params.forEach((p, i) => {
            p.assign(saved[i]!);
          });
          layer.mergedAdapters.length = mergedBefore;
          layer.mergeCache.clear();
          for (const [key, value] of cacheBefore) layer.mergeCache.set(key, value);
        }
      }
    });
  }

  /** Merges adapters into the base weights (kept in memory; unmerge() undoes it). */
  merge(options: MergeOptions = {}): void {
    const layers = this.loraLayers();
    if (options.safeMerge) this.#checkSafeMerge(layers, options.adapterNames);
    layers.forEach(([, layer], i) => {
      layer.merge({ safeMerge: options.safeMerge, adapterNames: options.adapterNames });
      options.onProgress?.(i + 1, layers.length);
    });
  }

  unmerge(): void {
    for (const [, layer] of this.loraLayers()) layer.unmerge();
  }

  /** Merges, then returns the base model without LoRA layers (modules_to_save become the trained copy). */
  mergeAndUnload(options: MergeOptions = {}): AnyModule {
    return this.#unload(true, options);
  }

  /** Returns the base model without LoRA layers, not merging (earlier merges stay in the weights). */
  unload(): AnyModule {
    return this.#unload(false, {});
  }

  #unload(merge: boolean, options: MergeOptions): AnyModule {
    const layers = this.loraLayers();
    if (merge && options.safeMerge) this.#checkSafeMerge(layers, options.adapterNames);
    noGrad(() => {
      layers.forEach(([path, layer], i) => {
        if (merge) layer.merge({ safeMerge: options.safeMerge, adapterNames: options.adapterNames });
        this.model.setSubmodule(path, layer.baseLayer);
        options.onProgress?.(i + 1, layers.length);
      });
      for (const [path, wrapper] of this.wrappers())
        this.model.setSubmodule(path, wrapper.unloadModule(merge));
    });
    const model = this.model;
    this.peftConfig.clear();
    return model;
  }

  /**
   * Builds a new adapter from weighted existing ones (PEFT's `add_weighted_adapter`) with a registered
   * combination type (install @lorakit/merge-strategies for svd, cat, linear, ties, dare_*,
   * magnitude_prune and their _svd forms). Returns the new adapter's config, or undefined when `name`
   * exists already (PEFT returns silently).
   */
  addWeightedAdapter(
    adapters: readonly string[],
    weights: readonly number[],
    name: string,
    combinationType = 'svd',
    options: WeightedMergeOptions = {},
  ): LoraConfig | undefined {
    return addWeightedAdapter(this, adapters, weights, name, combinationType, options);
  }

  /** (trainable, total) parameter counts; shared parameters count once (PEFT's get_nb_trainable_parameters). */
  trainableParameterCounts(): { trainable: number; total: number } {
    let trainable = 0;
    let total = 0;
    for (const p of this.parameters()) {
      total += p.size;
      if (p.requiresGrad) trainable += p.size;
    }
    return { trainable, total };
  }

  /** PEFT's exact `print_trainable_parameters` line. */
  trainableParametersSummary(): string {
    const { trainable, total } = this.trainableParameterCounts();
    const fmt = (n: number) => n.toLocaleString('en-US');
    return `trainable params: ${fmt(trainable)} || all params: ${fmt(total)} || trainable%: ${((100 * trainable) / total).toFixed(4)}`;
  }

  /**
   * Runs the model. Pass `adapterNames` (one per batch row, `'__base__'` for none) in the first
   * argument object for a mixed-adapter batch (inference only).
   */
  forward(...args: unknown[]): unknown {
    const first = args[0] as { adapterNames?: readonly string[] } | undefined;
    if (first && typeof first === 'object' && 'adapterNames' in first && first.adapterNames !== undefined) {
      const { adapterNames, ...rest } = first as Record<string, unknown> & {
        adapterNames: readonly string[];
      };
      if (this.training)
        throw new AdapterError('[lora] Cannot pass `adapter_names` when the model is in training mode.');
      const known = new Set<string>();
      for (const [, layer] of this.loraLayers()) for (const a of layer.adapterNames()) known.add(a);
      const missing = [...new Set(adapterNames)].filter((a) => a !== BASE_ADAPTER && !known.has(a)).sort();
      if (missing.length)
        throw new AdapterError(`[lora] Trying to infer with non-existing adapter(s): ${missing.join(', ')}`);
      return withAdapterNames(adapterNames, () => this.child('base_model').call(rest, ...args.slice(1)));
    }
    return this.child('base_model').call(...args);
  }
}

/**
 * Wraps a model with a LoRA adapter (PEFT's `get_peft_model`): injects LoRA layers where the config
 * targets, freezes the base model and makes the adapter trainable.
 *
 * @example
 * ```ts
 * const peft = getPeftModel(model, new LoraConfig({ r: 8, targetModules: ['q_proj', 'v_proj'] }));
 * console.log(peft.trainableParametersSummary());
 * ```
 */
export function getPeftModel(
  model: AnyModule,
  config: LoraConfig | LoraConfigOptions,
  options: { adapterName?: string } & AddAdapterOptions = {},
): PeftModel {
  const peft = new PeftModel(model);
  peft.addAdapter(options.adapterName ?? 'default', config, options);
  return peft;
}
