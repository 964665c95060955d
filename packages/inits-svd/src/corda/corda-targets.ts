import {
  checkTargetModule,
  DEFAULT_TARGET_MODULES,
  type LoraConfig,
  modelTypeOf,
  NoMatchingModuleError,
} from '@lorakit/lora';
import { type AnyModule, Conv1D, Linear } from '@lorakit/nn';

/** The output-embedding path a model declares (`all-linear` leaves it out, as LoRA injection does). */
function outputEmbeddingPath(model: AnyModule): string | undefined {
  const m = model as unknown as { getOutputEmbeddings?: () => string | AnyModule | undefined | null };
  const out = m.getOutputEmbeddings?.();
  if (!out) return undefined;
  if (typeof out === 'string') return out;
  return model.namedModules().find(([, module]) => module === out)?.[0];
}

/**
 * The modules CorDA prepares: those the LoRA config targets (lora's `checkTargetModule`, with
 * `exclude_modules`, `modules_to_save` and `layers_to_transform`) that are nn.Linear or GPT-2 Conv1D,
 * in model order. `target_modules` unset means the model type's default targets and `'all-linear'` every
 * linear layer but the output embedding, as `getPeftModel` resolves them (PEFT 0.21's
 * `preprocess_corda` supports neither).
 */
export function cordaTargets(model: AnyModule, config: LoraConfig): [string, AnyModule][] {
  const resolved = config.clone();
  if (resolved.targetModules === null) {
    const defaults = DEFAULT_TARGET_MODULES[modelTypeOf(model)];
    if (!defaults) {
      throw new NoMatchingModuleError(
        `[preprocessCorda] target_modules is not set and model_type "${modelTypeOf(model)}" has no default targets; set target_modules`,
      );
    }
    resolved.targetModules = typeof defaults === 'string' ? defaults : new Set(defaults);
  }
  const linear = (module: AnyModule) => module instanceof Linear || module instanceof Conv1D;
  const modules = model.namedModules().filter(([name]) => name !== '');
  if (typeof resolved.targetModules === 'string' && resolved.targetModules.toLowerCase() === 'all-linear') {
    const output = outputEmbeddingPath(model);
    resolved.targetModules = new Set(
      modules.filter(([name, module]) => linear(module) && name !== output).map(([name]) => name),
    );
  }
  return modules.filter(([name, module]) => linear(module) && checkTargetModule(resolved, name) === 'match');
}
