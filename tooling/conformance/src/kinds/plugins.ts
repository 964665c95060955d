import type { PeftModel } from '@lorakit/lora';
import type { CaseContext } from '../run.js';

/** Hooks the plugin packages contribute to the runner (data-driven inits, conversion, merges). */
export interface PluginHooks {
  /** Runs after the adapter was injected, before comparing (CorDA calibration, EVA data pass…). */
  prepareInit?: (peft: PeftModel, context: CaseContext) => Promise<void>;
  loaded: string[];
  missing: string[];
}

let hooks: PluginHooks | undefined;

/** Imports whichever plugin packages are installed; each registers its strategies on import. */
export async function plugins(): Promise<PluginHooks> {
  if (hooks) return hooks;
  hooks = { loaded: [], missing: [] };
  for (const name of ['@lorakit/inits-svd', '@lorakit/merge-strategies', '@lorakit/eva', '@lorakit/loftq']) {
    try {
      await import(name);
      hooks.loaded.push(name);
    } catch {
      hooks.missing.push(name);
    }
  }
  return hooks;
}
