import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parameter } from '@lorakit/nn';
import { listNames, openTensorSource, type TensorSource } from '@lorakit/safetensors';
import { type FloatDtype, type Generator, tensor } from '@lorakit/tensor';
import { CheckpointError, ConfigError } from '../errors.js';
import { initializeWeights } from '../init.js';
import type { PreTrainedModel } from '../pretrained-model.js';
import { createModel, type ModelConfig, parseConfig } from '../registry.js';

const FLOAT_DTYPES = new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2']);

export interface LoadModelOptions {
  /** Parameter dtype (default float32; bf16/f16 checkpoints are converted). */
  readonly dtype?: FloatDtype;
  /**
   * Default true: every weight must be in the checkpoint and every checkpoint tensor must be used (old
   * buffers transformers also ignores are skipped). false: missing weights are initialized as transformers
   * does (e.g. a new classification head) and unused tensors are skipped; both are listed in the report.
   */
  readonly strict?: boolean;
  /** transformers class to build (default: config.json's `architectures[0]`). */
  readonly architecture?: string;
  /** Random stream for weights initialized because they were missing (strict: false). */
  readonly generator?: Generator;
}

export interface LoadReport {
  /** Model weights the checkpoint did not have (initialized; only with strict: false). */
  readonly missing: readonly string[];
  /** Checkpoint tensors the model does not use (skipped; only with strict: false). */
  readonly unexpected: readonly string[];
  /** Checkpoint tensors skipped because transformers ignores them too (old GPT-2 mask buffers, …). */
  readonly ignored: readonly string[];
  /** Tied targets the checkpoint stores with values of their own: kept as separate weights. */
  readonly untied: readonly string[];
}

/** Reads and parses `<dir>/config.json`. */
export function readConfig(dir: string): ModelConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new ConfigError(`[loadModel] ${dir} has no config.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError(`[loadModel] ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseConfig(raw);
}

/**
 * Loads a transformers checkpoint folder: config.json and `model.safetensors` or a sharded
 * `model.safetensors.index.json`. Tensors are read one at a time. Tied weights (GPT-2's lm_head and
 * wte, `tie_word_embeddings`) end up as one shared Parameter whichever of the two the file stores.
 */
export async function loadModel(dir: string, options: LoadModelOptions = {}): Promise<PreTrainedModel> {
  return (await loadModelWithReport(dir, options)).model;
}

/** {@link loadModel}, also returning what was missing, unused or ignored. */
export async function loadModelWithReport(
  dir: string,
  options: LoadModelOptions = {},
): Promise<{ model: PreTrainedModel; report: LoadReport }> {
  const config = readConfig(dir);
  const model = createModel(config, { architecture: options.architecture, init: false });
  const source = openTensorSource(dir);
  try {
    const report = await loadWeights(model, source, dir, options);
    return { model, report };
  } finally {
    source.close();
  }
}

/**
 * Copies a checkpoint's tensors into a model built with the same config (shapes are checked before any
 * data is read). Exported for the CLI and adapters that bring their own TensorSource.
 */
export async function loadWeights(
  model: PreTrainedModel,
  source: TensorSource,
  location: string,
  options: LoadModelOptions = {},
): Promise<LoadReport> {
  const strict = options.strict ?? true;
  const dtype = options.dtype ?? 'float32';
  const expected = [...model.stateDict().keys()];
  const expectedSet = new Set(expected);
  const tiedTargets = new Map(model.tiedWeights().map(([target, tiedSource]) => [target, tiedSource]));
  const names = source.names();
  const rename = checkpointRenamer(model, names, expectedSet);

  // model key → checkpoint name
  const found = new Map<string, string>();
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const name of names) {
    const key = rename(name);
    if (expectedSet.has(key) && !found.has(key)) found.set(key, name);
    else if (model.ignoredCheckpointKeys().some((pattern) => pattern.test(name))) ignored.push(name);
    else unexpected.push(name);
  }
  // A tie is satisfied by either of its two names (transformers ties symmetrically). When the file has
  // both, both are read and compared after loading: transformers unties them if they differ.
  const toLoad = new Set<string>();
  const missing: string[] = [];
  const bothStored: [string, string][] = [];
  for (const key of expected) {
    const tiedSource = tiedTargets.get(key);
    if (tiedSource !== undefined && found.has(tiedSource) && found.has(key)) {
      bothStored.push([key, tiedSource]);
      toLoad.add(key);
      continue;
    }
    if (tiedSource !== undefined && (found.has(tiedSource) || found.has(key))) {
      if (!found.has(tiedSource)) {
        found.set(tiedSource, found.get(key)!);
        toLoad.add(tiedSource);
      }
      continue;
    }
    if (found.has(key)) toLoad.add(key);
    else if (![...tiedTargets].some(([target, s]) => s === key && found.has(target))) missing.push(key);
  }

  const state = model.stateDict();
  const mismatched: string[] = [];
  for (const key of toLoad) {
    const name = found.get(key)!;
    const info = source.info(name);
    const have = info.shape;
    const want = state.get(key)!.shape;
    if (have.length !== want.length || have.some((d, i) => d !== want[i])) {
      mismatched.push(
        `tensor "${name}" has shape [${have.join(', ')}] in the checkpoint but ${model.architecture} expects [${want.join(', ')}]`,
      );
    } else if (!FLOAT_DTYPES.has(info.dtype)) {
      mismatched.push(
        `tensor "${name}" is ${info.dtype} in the checkpoint but ${model.architecture} expects floats`,
      );
    }
  }
  if (mismatched.length > 0) {
    throw new CheckpointError(
      `[loadModel] ${location}: ${mismatched.join('; ')}`,
      missing,
      unexpected,
      mismatched,
    );
  }
  if (strict && missing.length > 0) {
    throw new CheckpointError(
      `[loadModel] ${location} is missing ${missing.length} weight${missing.length === 1 ? '' : 's'} of ${model.architecture}: ${listNames(missing)} (pass strict: false to initialize them)`,
      missing,
      unexpected,
    );
  }
  if (strict && unexpected.length > 0) {
    throw new CheckpointError(
      `[loadModel] ${location} has ${unexpected.length} tensor${unexpected.length === 1 ? '' : 's'} that ${model.architecture} does not use: ${listNames(unexpected)} (pass strict: false to skip them)`,
      missing,
      unexpected,
    );
  }
  if (missing.length > 0) initializeWeights(model, { generator: options.generator });

  for (const key of toLoad) {
    const { data, shape } = await source.read(found.get(key)!);
    const value = tensor(data as Float32Array | Float64Array, { shape, dtype });
    model.setParameter(key, new Parameter(value, true));
  }
  if (dtype !== 'float32') {
    for (const key of missing) {
      const current = model.parameterAt(key);
      model.setParameter(key, new Parameter(current.detach().cast(dtype), true));
    }
  }
  const untied: string[] = [];
  for (const [target, tiedSource] of bothStored) {
    const a = model.parameterAt(target).toArray();
    const b = model.parameterAt(tiedSource).toArray();
    if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
      model.untieWeight(target);
      untied.push(target);
    }
  }
  model.tieWeights();
  return { missing: strict ? [] : missing, unexpected: strict ? [] : unexpected, ignored, untied };
}

/**
 * Maps checkpoint names to model names the way transformers loads across heads: a checkpoint of the
 * heads-free model (`layers.0…`) loads into a model with a head (`model.layers.0…`) and the reverse, and
 * old LayerNorm names `gamma`/`beta` become `weight`/`bias`.
 */
function checkpointRenamer(
  model: PreTrainedModel,
  names: readonly string[],
  expected: ReadonlySet<string>,
): (name: string) => string {
  const prefix = model.basePrefix;
  const prefixed = `${prefix}.`;
  const modelHasPrefix = prefix !== '' && [...expected].some((k) => k.startsWith(prefixed));
  const checkpointHasPrefix = prefix !== '' && names.some((n) => n.startsWith(prefixed));
  const baseNames = ['model.', 'transformer.', 'bert.'];
  const checkpointBase = baseNames.find((p) => names.some((n) => n.startsWith(p)));
  return (name) => {
    let key = name;
    if (modelHasPrefix && !checkpointHasPrefix && expected.has(`${prefixed}${key}`))
      key = `${prefixed}${key}`;
    else if (prefix === '' && checkpointBase && key.startsWith(checkpointBase)) {
      const stripped = key.slice(checkpointBase.length);
      if (expected.has(stripped)) key = stripped;
    }
    if (!expected.has(key)) {
      const renamed = key.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
      if (expected.has(renamed)) key = renamed;
    }
    return key;
  };
}
