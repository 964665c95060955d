import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  AdapterFormatError,
  adapterConfigJson,
  adapterTensors,
  CONFIG_NAME,
  dumpPythonJson,
  LoraConfig,
  type PeftModel,
  parsePythonJson,
  readAdapterConfig,
  WEIGHTS_NAME,
  writeTextAtomically,
} from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';
import { readFloatTensors, writeFloatTensors } from '../tensor-files.js';
import { type ConvertedAdapter, convertToLora } from './convert-to-lora.js';

export interface SaveConvertedOptions {
  /** The adapter to convert (default `"default"`). `"default"` is written to `dir`, another to `dir/<name>`. */
  readonly adapterName?: string;
}

/**
 * Saves a trained PiSSA / OLoRA / CorDA adapter as a plain LoRA adapter for the ORIGINAL base model —
 * PEFT's `save_pretrained(dir, path_initial_model_for_weight_conversion=initialAdapterDir)`: rank 2r,
 * α adjusted, `init_lora_weights: true` (see {@link convertToLora}). `initialAdapterDir` holds the
 * adapter saved right after initialization (A₀, B₀). The result loads with `loadAdapter` / PEFT's
 * `PeftModel.from_pretrained` onto the unmodified base and reproduces the trained model's outputs.
 *
 * Files are PEFT's (`adapter_model.safetensors` with `{"format": "pt"}`, `adapter_config.json`), each
 * written to a temporary file and renamed, weights first. Unlike PEFT, the initial adapter's config is
 * not rewritten (PEFT resets its `init_lora_weights` to true because it reloads that adapter into the
 * model; here its tensors are read directly).
 *
 * @returns the converted adapter and PEFT's warnings
 */
export async function saveConvertedAdapter(
  peft: PeftModel,
  dir: string,
  initialAdapterDir: string,
  options: SaveConvertedOptions = {},
): Promise<ConvertedAdapter> {
  const adapter = options.adapterName ?? 'default';
  // The trained config as saveAdapter writes it (inference_mode true, auto_mapping filled in).
  const trainedConfig = LoraConfig.fromPeftDict(
    parsePythonJson(adapterConfigJson(peft, adapter)) as Record<string, unknown>,
  );
  const trainedTensors = new Map<string, Tensor>(adapterTensors(peft, adapter));
  const initialWeights = join(initialAdapterDir, WEIGHTS_NAME);
  for (const file of [CONFIG_NAME, WEIGHTS_NAME]) {
    if (!existsSync(join(initialAdapterDir, file))) {
      throw new AdapterFormatError(
        `[saveConvertedAdapter] the initial adapter folder ${initialAdapterDir} has no ${file}; pass the folder of the adapter saved right after initialization (before training)`,
      );
    }
  }
  const initialConfig = readAdapterConfig(initialAdapterDir);
  const converted = convertToLora(
    { config: initialConfig, tensors: readFloatTensors(initialWeights) },
    { config: trainedConfig, tensors: trainedTensors },
  );
  const target = adapter === 'default' ? dir : join(dir, adapter);
  if (existsSync(target) && !statSync(target).isDirectory()) {
    throw new AdapterFormatError(
      `[saveConvertedAdapter] ${target} is a file; the adapter is saved into a directory`,
    );
  }
  mkdirSync(target, { recursive: true });
  await writeFloatTensors(join(target, WEIGHTS_NAME), converted.tensors, { format: 'pt' });
  writeTextAtomically(join(target, CONFIG_NAME), dumpPythonJson(converted.config.toPeftDict()));
  return converted;
}
