import type { AnyModule } from '@lorakit/nn';
import type { Generator } from '@lorakit/tensor';
import type { LoraConfig } from '../config/lora-config.js';
import { AdapterError, listNames, NoMatchingModuleError } from '../errors.js';
import { findDispatcher } from '../layers/dispatch.js';
import { LoraLayer } from '../layers/lora-layer.js';
import {
  checkTargetModule,
  DEFAULT_TARGET_MODULES,
  minimizeTargetModules,
  resolvePattern,
  unusedPatternKeys,
} from '../targeting/match.js';
import { wrapTrainableTokens } from './inject-trainable-tokens.js';
import { replicateLayers } from './layer-replication.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';

/** Lists of this many names or more are minimized to dotted suffixes (PEFT's MIN_TARGET_MODULES_FOR_OPTIMIZATION). */
const MIN_TARGET_MODULES_FOR_OPTIMIZATION = 20;

export interface InjectOptions {
  readonly adapterName: string;
  /** Create the factors without running the init strategy (for loading saved weights). */
  readonly initWeights?: boolean;
  readonly warn: (message: string) => void;
  /** Random numbers for the init strategy. */
  readonly generator?: Generator;
}

export interface InjectResult {
  /** Names of the modules that got this adapter, in model order. */
  readonly targeted: string[];
}

/** The model_type of a model (transformers' `config.model_type`), or 'custom'. */
export function modelTypeOf(model: AnyModule): string {
  const m = model as unknown as { modelType?: string; config?: { model_type?: string } };
  return m.modelType ?? m.config?.model_type ?? 'custom';
}

/** The dotted path of the output embedding layer (e.g. `lm_head`), if the model declares one. */
function outputEmbeddingPath(model: AnyModule): string | undefined {
  const m = model as unknown as { getOutputEmbeddings?: () => string | AnyModule | undefined | null };
  const out = m.getOutputEmbeddings?.();
  if (!out) return undefined;
  if (typeof out === 'string') return out;
  return model.namedModules().find(([, module]) => module === out)?.[0];
}

function isUnder(name: string, parents: readonly string[]): boolean {
  return parents.some((p) => name.startsWith(`${p}.`));
}

export interface TargetResolution {
  /** Modules this config targets, in model order. */
  readonly targets: [string, AnyModule][];
  readonly excluded: number;
  readonly unmatched: number;
}

/**
 * Resolves which modules a config targets, without changing the model (PEFT's target selection): the
 * per-architecture default when target_modules is unset, `all-linear` expansion (output embedding and
 * LoRA internals excluded), minimization of long lists, then exclude_modules / modules_to_save /
 * layers_to_transform per module. Rewrites `config.targetModules` the way PEFT saves it. Plugins that
 * calibrate on the targets before injection (CorDA, EVA) use this too.
 */
export function resolveTargets(model: AnyModule, config: LoraConfig): TargetResolution {
  if (config.targetModules === null) {
    const modelType = modelTypeOf(model);
    const defaults = DEFAULT_TARGET_MODULES[modelType];
    if (!defaults) {
      throw new NoMatchingModuleError(
        `[lora] Please specify \`target_modules\` or \`target_parameters\`in \`peft_config\` (no default target modules for model_type "${modelType}"; known: ${Object.keys(DEFAULT_TARGET_MODULES).join(', ')})`,
      );
    }
    config.targetModules = typeof defaults === 'string' ? defaults : new Set(defaults);
  }
  const modules = model.namedModules();
  const tunerNames = modules.filter(([, m]) => m instanceof LoraLayer).map(([n]) => n);
  if (typeof config.targetModules === 'string' && config.targetModules.toLowerCase() === 'all-linear') {
    const output = outputEmbeddingPath(model);
    const linear = modules
      .filter(
        ([name, m]) =>
          name !== '' &&
          ((m instanceof LoraLayer && m.kind === 'linear') || findDispatcher(m)?.linear === true),
      )
      .map(([name]) => name)
      .filter((name) => name !== output && !isUnder(name, tunerNames));
    config.targetModules = new Set(linear);
  }
  if (
    config.targetModules instanceof Set &&
    config.targetModules.size >= MIN_TARGET_MODULES_FOR_OPTIMIZATION
  ) {
    const targets = [...config.targetModules];
    const allNames = modules.map(([n]) => n).filter((n) => n !== '');
    const minimal = minimizeTargetModules(targets, allNames);
    if (minimal.length < targets.length) config.targetModules = new Set(minimal);
  }
  const targets: [string, AnyModule][] = [];
  let excluded = 0;
  let unmatched = 0;
  for (const [name, module] of modules) {
    if (name === '' || isUnder(name, tunerNames)) continue;
    const result = checkTargetModule(config, name);
    if (result === 'excluded') excluded++;
    else if (result === 'miss') unmatched++;
    else targets.push([name, module]);
  }
  return { targets, excluded, unmatched };
}

/**
 * Adds one adapter to `model` (PEFT's `inject_adapter` for LoRA): resolve targets, wrap or update the
 * matching modules, wrap modules_to_save. The config may be rewritten (target_modules after default
 * lookup, all-linear expansion or minimization; fan_in_fan_out after dispatch), exactly as PEFT saves it.
 */
export function injectAdapter(model: AnyModule, config: LoraConfig, options: InjectOptions): InjectResult {
  const { adapterName, warn } = options;
  if (!['none', 'all'].includes(config.bias) && !config.bias.endsWith('_only')) {
    throw new AdapterError(`[lora] Requested bias: ${config.bias}, is not implemented.`);
  }
  if (config.layerReplication) replicateLayers(model, config.layerReplication);
  const { targets, excluded, unmatched } = resolveTargets(model, config);
  const targeted: string[] = [];
  for (const [name, module] of targets) {
    if (module instanceof ModulesToSaveWrapper) {
      throw new AdapterError(`[lora] ${name} is wrapped by modules_to_save and cannot also be a LoRA target`);
    }
    createAndReplace(model, name, module, config, options);
    targeted.push(name);
  }

  if (targeted.length === 0 && config.targetModules !== 'dummy-target-modules') {
    throw noMatchError(model, config, excluded, unmatched);
  }
  if (config.excludeModules && excluded === 0) {
    warn(
      `You have passed exclude_modules=${JSON.stringify(config.excludeModules instanceof Set ? [...config.excludeModules] : config.excludeModules)} but no modules were excluded. Please check that exclude_modules was set correctly.`,
    );
  }
  for (const [kind, pattern] of [
    ['rank_pattern', config.rankPattern],
    ['alpha_pattern', config.alphaPattern],
  ] as const) {
    const unused = unusedPatternKeys(pattern, targeted);
    if (unused.length)
      warn(
        `The following ${kind} keys did not match any targeted module and were ignored: ${JSON.stringify(unused)}.`,
      );
  }
  wrapModulesToSave(model, config, adapterName);
  wrapTrainableTokens(model, config, adapterName);
  return { targeted };
}

function createAndReplace(
  model: AnyModule,
  name: string,
  target: AnyModule,
  config: LoraConfig,
  options: InjectOptions,
): void {
  const r = resolvePattern(config.rankPattern, name, config.r);
  const alpha = resolvePattern(config.alphaPattern, name, config.loraAlpha);
  const spec = {
    name: options.adapterName,
    r,
    alpha,
    config,
    modulePath: name,
    initWeights: options.initWeights ?? true,
    warn: options.warn,
    generator: options.generator,
  };
  if (target instanceof LoraLayer) {
    target.updateLayer(spec);
    return;
  }
  const dispatcher = findDispatcher(target);
  if (!dispatcher) {
    throw new AdapterError(
      `[lora] Target module ${name} (${target.constructor.name}) is not supported. Currently, only the following modules are supported: Linear, Embedding, Conv1d, Conv2d, Conv3d, Conv1D (GPT-2), and modules registered with registerLayerDispatcher.`,
    );
  }
  const layer = dispatcher.create(target, config, options.warn);
  layer.updateLayer(spec);
  model.setSubmodule(name, layer);
}

function noMatchError(
  model: AnyModule,
  config: LoraConfig,
  excluded: number,
  unmatched: number,
): NoMatchingModuleError {
  const names = model
    .namedModules()
    .filter(([n, m]) => n !== '' && m.namedChildren().length === 0)
    .map(([n]) => n);
  const existing = ` Leaf modules in this model: ${listNames(names)}.`;
  if (excluded > 0 && unmatched === 0) {
    return new NoMatchingModuleError(
      `[lora] All modules were excluded. This is likely unintended. Check your \`target_modules\`, \`exclude_modules\` and \`modules_to_save\` configuration.${existing}`,
    );
  }
  const targets = config.targetModules;
  const notes =
    (config.layersToTransform !== null
      ? ` Note: You specified 'layers_to_transform': ${JSON.stringify(config.layersToTransform)}.`
      : '') +
    (config.layersPattern !== null
      ? ` You also specified 'layers_pattern': ${JSON.stringify(config.layersPattern)}.`
      : '');
  if (excluded === 0) {
    if (!targets || (targets instanceof Set && targets.size === 0)) {
      return new NoMatchingModuleError(
        `[lora] No \`target_modules\` passed but also no \`target_parameters\` found. Please check the values for these arguments.${existing}`,
      );
    }
    const shown = typeof targets === 'string' ? targets : `{${[...targets].map((t) => `'${t}'`).join(', ')}}`;
    return new NoMatchingModuleError(
      `[lora] Target modules ${shown} not found in the base model. Please check the target modules and try again.${notes}${existing}`,
    );
  }
  return new NoMatchingModuleError(
    `[lora] No modules were targeted for adaptation. This might be caused by a combination of mismatched target modules and excluded modules. Please check your \`target_modules\` and \`exclude_modules\` configuration. You may also have only targeted modules that are marked to be saved (\`modules_to_save\`).${notes}${existing}`,
  );
}

/** Wraps every module whose full name ends with a modules_to_save entry (plain `endsWith`, as PEFT). */
function wrapModulesToSave(model: AnyModule, config: LoraConfig, adapterName: string): void {
  if (!config.modulesToSave?.length) return;
  for (const [name, module] of model.namedModules()) {
    if (name === '' || !config.modulesToSave.some((entry) => name.endsWith(entry))) continue;
    if (module instanceof ModulesToSaveWrapper) {
      module.addAdapter(adapterName);
      continue;
    }
    if (
      isUnder(
        name,
        model
          .namedModules()
          .filter(([, m]) => m instanceof ModulesToSaveWrapper)
          .map(([n]) => n),
      )
    )
      continue;
    if (module instanceof LoraLayer) {
      throw new AdapterError(
        `[lora] modules_to_save cannot be applied to modules of type ${module.constructor.name} (${name} is a LoRA target)`,
      );
    }
    const wrapper = new ModulesToSaveWrapper(module);
    wrapper.addAdapter(adapterName);
    model.setSubmodule(name, wrapper);
  }
}
