import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LoraConfig, PeftModel } from '@lorakit/lora';
import type { AnyModule } from '@lorakit/nn';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import type { CaseContext } from '../run.js';

/** Hooks the plugin packages contribute to the runner (data-driven inits, conversion, merges). */
export interface PluginHooks {
  /** Runs on the base model before the adapter is injected (CorDA's calibration). */
  beforeInject?: (base: AnyModule, config: LoraConfig, context: CaseContext) => Promise<void>;
  /** Runs after the adapter was injected, before comparing (EVA's data pass…). */
  prepareInit?: (peft: PeftModel, context: CaseContext) => Promise<void>;
  /** @lorakit/inits-svd's conversion of a base-mutating adapter to plain LoRA. */
  convertToLora?: (
    initial: { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> },
    trained: { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> },
  ) => { config: LoraConfig; tensors: ReadonlyMap<string, Tensor> };
  /** @lorakit/merge-strategies' clamp of SVD-merged factors at a quantile of their entries. */
  clampFactors?: (factors: { a: Tensor; b: Tensor }, q: number) => { a: Tensor; b: Tensor };
  loaded: string[];
  missing: string[];
}

let hooks: PluginHooks | undefined;

/** Imports whichever plugin packages are installed; each registers its strategies on import. */
export async function plugins(): Promise<PluginHooks> {
  if (hooks) return hooks;
  hooks = { loaded: [], missing: [] };
  const loaded: Record<string, Record<string, unknown>> = {};
  for (const name of ['@lorakit/inits-svd', '@lorakit/merge-strategies', '@lorakit/eva', '@lorakit/loftq']) {
    try {
      loaded[name] = (await import(name)) as Record<string, unknown>;
      hooks.loaded.push(name);
    } catch {
      hooks.missing.push(name);
    }
  }
  const merges = loaded['@lorakit/merge-strategies'];
  if (merges) hooks.clampFactors = merges.clampFactors as PluginHooks['clampFactors'];
  const svd = loaded['@lorakit/inits-svd'];
  if (svd) {
    hooks.convertToLora = svd.convertToLora as PluginHooks['convertToLora'];
    const preprocessCorda = svd.preprocessCorda as (
      model: AnyModule,
      config: LoraConfig,
      run: () => void,
    ) => Promise<unknown>;
    hooks.beforeInject = async (base, config, { dir }) => {
      const value = config.initLoraWeights;
      if (typeof value !== 'string' || !value.startsWith('corda')) return;
      const calibration = join(dir, 'calibration.safetensors');
      if (!existsSync(calibration)) throw new Error(`CorDA case ${dir} has no calibration.safetensors`);
      const ids = readTensorFile(calibration).get('calibration_input_ids')!;
      // Each calibration row was run as its own forward pass (batch of 1), as the fixtures README says.
      await preprocessCorda(base, config, () => {
        for (let i = 0; i < ids.shape[0]!; i++) base.call({ inputIds: ids.narrow(0, i, 1) });
      });
    };
  }
  return hooks;
}
