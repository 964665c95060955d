import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findInitStrategy, LoraConfig, registeredInitMethods } from '@lorakit/lora';
import type { AnyModule } from '@lorakit/nn';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { lorakitPackages } from '../packages.js';
import type { CaseContext } from '../run.js';

/** Hooks the plugin packages contribute to the runner (data-driven inits, conversion, merges). */
export interface PluginHooks {
  /** Runs on the base model before the adapter is injected (the init method's `beforeInjection`). */
  beforeInject: (base: AnyModule, config: LoraConfig, context: CaseContext) => Promise<void>;
  /** A plugin's conversion of a base-mutating adapter to plain LoRA (`convertToLora`). */
  convertToLora?: (
    initial: { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> },
    trained: { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> },
  ) => { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> };
  /** A plugin's clamp of SVD-merged factors at a quantile of their entries (`clampFactors`). */
  clampFactors?: (factors: { a: Tensor; b: Tensor }, q: number) => { a: Tensor; b: Tensor };
  loaded: string[];
  missing: string[];
}

let hooks: Promise<PluginHooks> | undefined;

/** The registered init method whose init_lora_weights selects the same strategy as `value`, if any. */
function methodFor(value: LoraConfig['initLoraWeights']) {
  const strategy = findInitStrategy(value);
  if (!strategy) return undefined;
  return registeredInitMethods().find((method) => {
    const probe = new LoraConfig({ targetModules: ['probe'] });
    try {
      method.configure(probe, {});
    } catch {
      return false;
    }
    return findInitStrategy(probe.initLoraWeights) === strategy;
  });
}

/** The case's calibration rows, one forward input each (as the fixtures README says PEFT ran them). */
function calibrationOf(dir: string) {
  const file = join(dir, 'calibration.safetensors');
  if (!existsSync(file)) return undefined;
  const ids = readTensorFile(file).get('calibration_input_ids')!;
  const sequences = Array.from({ length: ids.shape[0]! }, (_, i) => ({ inputIds: ids.narrow(0, i, 1) }));
  return { sequences, batches: [] };
}

async function loadHooks(): Promise<PluginHooks> {
  const found: PluginHooks = { loaded: [], missing: [], beforeInject: async () => {} };
  // Every installed package that declares itself a plugin; each registers its strategies on import.
  for (const { name } of lorakitPackages().filter((p) => p.plugin !== undefined)) {
    try {
      const module = (await import(name)) as Record<string, unknown>;
      found.loaded.push(name);
      if (typeof module.convertToLora === 'function') {
        found.convertToLora = module.convertToLora as PluginHooks['convertToLora'];
      }
      if (typeof module.clampFactors === 'function') {
        found.clampFactors = module.clampFactors as PluginHooks['clampFactors'];
      }
    } catch {
      found.missing.push(name);
    }
  }
  found.beforeInject = async (base, config, { dir }) => {
    const method = methodFor(config.initLoraWeights);
    if (!method?.beforeInjection) return;
    const calibration = calibrationOf(dir);
    if (method.calibration && !calibration) {
      throw new Error(`${method.name} case ${dir} has no calibration.safetensors`);
    }
    await method.beforeInjection(base, config, {
      values: {},
      ...(calibration ? { calibration } : {}),
      log: () => {},
      progress: () => ({ setTotal() {}, update() {}, finish() {} }),
    });
  };
  return found;
}

/** Imports whichever plugin packages are installed, once. */
export function plugins(): Promise<PluginHooks> {
  hooks ??= loadHooks();
  return hooks;
}
