import { existsSync, realpathSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { readAdapterConfig } from '@lorakit/lora';
import { CliError } from './errors.js';

function real(path: string): string {
  return existsSync(path) ? realpathSync(path) : resolve(path);
}

/**
 * `lorakit init` saves a PiSSA/OLoRA/CorDA/LoftQ adapter as plain LoRA of the residual base it wrote
 * (`base_model_name_or_path`: `…/residual-base`). On any other base such an adapter silently computes
 * W + s·B₀A₀ instead of W, so it is refused, naming the model to use. Adapters that record another kind
 * of base (a Hub id, a model folder) are not checked: only a residual base is known to be wrong elsewhere.
 */
export function requireResidualBase(adapterDir: string, modelDir: string): void {
  const recorded = readAdapterConfig(adapterDir).baseModelNameOrPath;
  if (!recorded || basename(recorded) !== 'residual-base' || !existsSync(recorded)) return;
  if (real(recorded) === real(modelDir)) return;
  throw new CliError(
    `adapter ${adapterDir} belongs to the residual base ${recorded} (lorakit init moved part of each weight into it; adapter_config.json base_model_name_or_path), but --model is ${modelDir}: pass --model ${recorded}, or lorakit convert it to plain LoRA for the original model`,
  );
}
