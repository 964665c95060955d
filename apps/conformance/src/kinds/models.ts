import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyModule } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { PendingError } from '../report.js';

interface ModelsPackage {
  loadModel(dir: string, options?: Record<string, unknown>): Promise<AnyModule> | AnyModule;
}

let models: ModelsPackage | undefined;

/** @lorakit/models, loaded on first use (kinds that need a Hugging Face model are pending without it). */
export async function modelsPackage(): Promise<ModelsPackage> {
  if (models) return models;
  try {
    const specifier = '@lorakit/models';
    models = (await import(specifier)) as unknown as ModelsPackage;
    return models;
  } catch (error) {
    throw new PendingError(
      `needs @lorakit/models, which could not be loaded: ${(error as Error).message.split('\n')[0]}`,
    );
  }
}

/** Loads a case's `base/` checkpoint in eval mode. */
export async function loadBase(dir: string): Promise<AnyModule> {
  const { loadModel } = await modelsPackage();
  const model = await loadModel(join(dir, 'base'));
  return model.eval();
}

/** transformers' forward arguments that cases may store in io.safetensors. */
const MODEL_INPUTS = [
  'input_ids',
  'attention_mask',
  'token_type_ids',
  'position_ids',
  'decoder_input_ids',
  'decoder_attention_mask',
];

/** Logits of a model (or PeftModel) on the case inputs. */
export function logits(
  model: AnyModule,
  io: Map<string, Tensor>,
  extra: Record<string, unknown> = {},
): Tensor {
  const inputs: Record<string, unknown> = {};
  // Every model input the case stores (T5 cases add decoder_input_ids and decoder masks), camelCased.
  for (const name of MODEL_INPUTS) {
    if (io.has(name)) inputs[name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = io.get(name);
  }
  const out = model.call({ ...inputs, ...extra }) as { logits: Tensor };
  return out.logits;
}

export function adapterDir(dir: string, ...parts: string[]): string {
  const path = join(dir, ...parts);
  if (!existsSync(join(path, 'adapter_config.json'))) throw new Error(`no adapter at ${path}`);
  return path;
}
