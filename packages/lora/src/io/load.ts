import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AnyModule, Parameter } from '@lorakit/nn';
import { interruptedBackup, SafetensorsFile } from '@lorakit/safetensors';
import { type Generator, noGrad, tensor } from '@lorakit/tensor';
import { LoraConfig } from '../config/lora-config.js';
import { parsePythonJson } from '../config/python-json.js';
import { AdapterFormatError, listNames } from '../errors.js';
import { PeftModel } from '../model/peft-model.js';
import { adapterTensors, KEY_PREFIX } from './adapter-keys.js';
import { loadableEmbeddingLayers } from './embedding-layers.js';
import { CONFIG_NAME, WEIGHTS_NAME } from './save.js';

export interface LoadAdapterOptions {
  /** Name to give the adapter (default "default"); names are not stored in the files. */
  readonly adapterName?: string;
  /** Load with trainable LoRA parameters (default false: inference, frozen). */
  readonly isTrainable?: boolean;
  /** Random numbers for base-mutating inits that re-run on load (pissa_niter_N needs the training-time seed). */
  readonly generator?: Generator;
}

/** Reads and validates `adapter_config.json` from an adapter directory. */
export function readAdapterConfig(dir: string): LoraConfig {
  const path = join(dir, CONFIG_NAME);
  if (!existsSync(path)) {
    const backup = interruptedBackup(dir);
    const why = existsSync(dir) && statSync(dir).isDirectory() ? '' : ' (the directory does not exist)';
    throw new AdapterFormatError(
      `[loadAdapter] ${dir} has no ${CONFIG_NAME}${why}${backup ? `; a save was interrupted and left the previous version at ${backup} (the next save into ${dir} restores it)` : ''}`,
    );
  }
  let dict: unknown;
  try {
    dict = parsePythonJson(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new AdapterFormatError(`[loadAdapter] ${path} is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (!dict || typeof dict !== 'object' || Array.isArray(dict)) {
    const received = Array.isArray(dict) ? 'an array' : dict === null ? 'null' : typeof dict;
    throw new AdapterFormatError(`[loadAdapter] ${path} must hold a JSON object, received ${received}`);
  }
  return LoraConfig.fromPeftDict(dict as Record<string, unknown>);
}

/** What the fit check needs of an adapter file: its tensor names, shapes and dtypes. */
export interface AdapterTensorListing {
  names(): string[];
  info(name: string): { readonly shape: readonly number[]; readonly dtype: string };
}

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

/**
 * The one check that an adapter file fits a model, shared by `loadAdapter` and the CLI's streaming
 * merge: the key set must match `expected` exactly (missing keys, unexpected keys and shape
 * mismatches are one error listing them), and every tensor must be a float dtype (integer factors
 * would be cast silently and give a different adapter). Keys in `optional` (embedding layers saved
 * with the adapter) may be present or not. `path` is named in the error; `operation` names the caller
 * (`loadAdapter`, `merge`).
 */
export function checkAdapterFit(
  expected: ReadonlyMap<string, { readonly shape: readonly number[] }>,
  file: AdapterTensorListing,
  path: string,
  operation = 'loadAdapter',
  optional: ReadonlyMap<string, { readonly shape: readonly number[] }> = new Map(),
): void {
  const present = new Set(file.names());
  const missing = [...expected.keys()].filter((k) => !present.has(k));
  const unexpected = [...present].filter((k) => !expected.has(k) && !optional.has(k));
  const mismatched: string[] = [];
  const integer: string[] = [];
  for (const [key, param] of [...expected, ...optional]) {
    if (!present.has(key)) continue;
    const { shape, dtype } = file.info(key);
    if (shape.length !== param.shape.length || shape.some((d, i) => d !== param.shape[i])) {
      mismatched.push(`${key}: file [${shape.join(', ')}] vs model [${param.shape.join(', ')}]`);
    }
    if (!FLOAT_DTYPES.has(dtype)) integer.push(`${key} (${dtype})`);
  }
  if (missing.length || unexpected.length || mismatched.length || integer.length) {
    const parts: string[] = [];
    if (present.size === 0) parts.push('the file has no tensors');
    if (mismatched.length) parts.push(`shape mismatches: ${listNames(mismatched)}`);
    if (missing.length) parts.push(`missing keys: ${listNames(missing)}`);
    if (unexpected.length) parts.push(`unexpected keys: ${listNames(unexpected)}`);
    if (integer.length) parts.push(`tensors that are not floating point: ${listNames(integer)}`);
    throw new AdapterFormatError(`[${operation}] ${path} does not fit the model: ${parts.join('; ')}`);
  }
}

/**
 * Loads the weights in `dir` into an adapter that already exists on `peft` (checked by
 * {@link checkAdapterFit} before any parameter is written). Embedding-layer weights saved with the
 * adapter (`save_embedding_layers`) are written into the base model, as PEFT does.
 */
export function loadAdapterWeights(peft: PeftModel, dir: string, adapterName: string): void {
  const path = join(dir, WEIGHTS_NAME);
  if (!existsSync(path)) throw new AdapterFormatError(`[loadAdapter] ${dir} has no ${WEIGHTS_NAME}`);
  const file = SafetensorsFile.open(path);
  try {
    const expected = adapterTensors(peft, adapterName, { saveEmbeddingLayers: false });
    const embeddings = new Map<string, Parameter>(
      [...loadableEmbeddingLayers(peft)].map(([key, param]) => [`${KEY_PREFIX}${key}`, param] as const),
    );
    for (const key of expected.keys()) embeddings.delete(key);
    checkAdapterFit(expected, file, path, 'loadAdapter', embeddings);
    const present = new Set(file.names());
    const toLoad = [...expected, ...[...embeddings].filter(([key]) => present.has(key))];
    noGrad(() => {
      for (const [key, param] of toLoad) {
        const { data, shape } = file.readSync(key);
        param.assign(tensor(data as Float32Array, { shape, backend: param.backend.name }));
      }
    });
  } finally {
    file.close();
  }
}

/**
 * Loads a PEFT adapter directory onto a base model (PEFT's `PeftModel.from_pretrained`), or onto an
 * existing PeftModel as an extra adapter (`load_adapter`). The adapter is created without running its
 * init strategy (its weights come from the file). Returns the PeftModel.
 */
export function loadAdapter(
  model: AnyModule | PeftModel,
  dir: string,
  options: LoadAdapterOptions = {},
): PeftModel {
  const name = options.adapterName ?? 'default';
  const config = readAdapterConfig(dir);
  config.inferenceMode = !options.isTrainable;
  const peft = model instanceof PeftModel ? model : new PeftModel(model);
  const fresh = peft.peftConfig.size === 0;
  // A first adapter freezes the base model; a failed load must give the caller's flags back.
  const trainable = fresh ? new Map(peft.parameters().map((p) => [p, p.requiresGrad])) : undefined;
  peft.addAdapter(name, config, { initWeights: false, generator: options.generator });
  try {
    loadAdapterWeights(peft, dir, name);
  } catch (error) {
    // The caller's model must look as it did before: LoRA layers of this adapter are unwrapped again.
    peft.discardAdapter(name);
    if (trainable) for (const [p, flag] of trainable) p.requiresGrad = flag;
    throw error;
  }
  if (fresh && !options.isTrainable) peft.eval();
  if (!fresh && options.isTrainable) {
    for (const [, layer] of peft.loraLayers())
      if (layer.hasAdapter(name)) for (const p of layer.adapterParameters(name)) p.requiresGrad = true;
    for (const [, wrapper] of peft.wrappers())
      if (wrapper.adapters.has(name)) wrapper.copyFor(name).requiresGrad(true);
  }
  return peft;
}
