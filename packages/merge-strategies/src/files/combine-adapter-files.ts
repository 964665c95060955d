import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  AdapterError,
  CONFIG_NAME,
  dumpPythonJson,
  getMergeStrategy,
  KEY_PREFIX,
  type LoraConfig,
  MergeError,
  type MergeLayerContext,
  type MergeSource,
  type MergeStrategy,
  WEIGHTS_NAME,
  weightedAdapterConfig,
  writeTextAtomically,
} from '@lorakit/lora';
import { type TensorEntry, writeSafetensors } from '@lorakit/safetensors';
import { noGrad, type Tensor, zeros } from '@lorakit/tensor';
import { baseLayoutDelta } from '../strategies/factor-matrices.js';
import type { MergeStrategyOptions } from '../strategies/options.js';
import { AdapterFile, type ModuleEntry } from './adapter-file.js';
import { checkSameBase, checkTargetsCovered } from './check-combinable.js';

export interface CombineAdapterFilesOptions {
  /** PEFT adapter directories (adapter_config.json + adapter_model.safetensors). */
  readonly adapters: readonly string[];
  /** One weight per adapter. */
  readonly weights: readonly number[];
  /** A registered combination type (default 'svd', as PEFT); forced to 'linear' for one adapter. */
  readonly type?: string;
  readonly options?: MergeStrategyOptions;
  /** Where to write the merged adapter (created if missing). */
  readonly outDir: string;
  /** Called after each module is merged. */
  readonly onProgress?: (progress: { done: number; total: number; module: string }) => void;
}

export interface CombineAdapterFilesResult {
  readonly outDir: string;
  /** The combination type used (`linear` when one adapter was given). */
  readonly type: string;
  readonly config: LoraConfig;
  /** Module paths of the merged adapter, in the order they were merged. */
  readonly modules: readonly string[];
}

/**
 * `add_weighted_adapter` on adapter files alone: merges PEFT adapter directories into a new PEFT adapter
 * without loading any base model. Modules are merged one at a time while the output is written: each
 * module's factors are read from the inputs when the writer reaches them, combined by the registered
 * strategy and written, so memory holds one module at a time. The merged config follows the same rules as
 * addWeightedAdapter (rank, lora_alpha = rank, the union of targets, no patterns, scaling 1). Both files
 * are written atomically (a temporary name, then a rename), the weights first.
 *
 * What needs the base model is refused with a message: DoRA, `lora_bias`, `bias` other than "none",
 * `modules_to_save`, and any tensor in the files that is not a LoRA factor. So are adapters of different
 * base models or tasks, and a combination whose config would not target every merged module (see
 * `checkSameBase`, `checkTargetsCovered`): the result would load on no base.
 */
export async function combineAdapterFiles(
  request: CombineAdapterFilesOptions,
): Promise<CombineAdapterFilesResult> {
  const { adapters, weights, outDir } = request;
  const options = request.options ?? {};
  if (adapters.length === 0)
    throw new AdapterError('[combineAdapterFiles] needs at least one adapter directory');
  if (weights.length !== adapters.length) {
    throw new AdapterError(
      `[combineAdapterFiles] needs one weight per adapter: received ${adapters.length} adapters and ${weights.length} weights`,
    );
  }
  const outPath = resolve(outDir);
  const clash = adapters.find((dir) => existsSync(dir) && realpath(dir) === realpath(outPath));
  if (clash !== undefined) {
    throw new AdapterError(
      `[combineAdapterFiles] outDir ${outDir} is one of the input adapters; write the merge elsewhere`,
    );
  }
  if (existsSync(outPath) && !statSync(outPath).isDirectory()) {
    throw new AdapterError(
      `[combineAdapterFiles] outDir ${outDir} is a file; the adapter is written into a directory`,
    );
  }

  const files: AdapterFile[] = [];
  try {
    for (const dir of adapters) {
      files.push(AdapterFile.open(dir));
    }
    checkSameBase(files);
    const type = adapters.length === 1 ? 'linear' : (request.type ?? 'svd');
    const strategy = getMergeStrategy(type);
    const config = weightedAdapterConfig(
      type,
      adapters,
      files.map((f) => f.config),
      options.svdRank ?? undefined,
    );
    const rank = config.r;
    const modules = moduleUnion(files);
    checkTargetsCovered(files, config, modules);

    // The writer asks for tensors in its own (name) order; a module is merged on the first request for
    // one of its factors and the other factor waits here until asked for, so each module is merged once
    // (random strategies draw one set of masks) and usually only one module is held.
    const merged: string[] = [];
    const waiting = new Map<string, Tensor>();
    const factor = (path: string, which: 'a' | 'b'): Tensor => {
      const key = `${which}:${path}`;
      const ready = waiting.get(key);
      if (ready) {
        waiting.delete(key);
        return ready;
      }
      const result = noGrad(() => combineModule(path, files, weights, strategy, type, rank, config, options));
      merged.push(path);
      request.onProgress?.({ done: merged.length, total: modules.size, module: path });
      waiting.set(`${which === 'a' ? 'b' : 'a'}:${path}`, which === 'a' ? result.b : result.a);
      return result[which];
    };

    const entries: TensorEntry[] = [];
    for (const [path, module] of modules) {
      const embedding = module.kind === 'embedding';
      entries.push(
        {
          name: `${KEY_PREFIX}${path}.${embedding ? 'lora_embedding_A' : 'lora_A.weight'}`,
          dtype: 'F32',
          shape: [rank, ...module.aShape.slice(1)],
          data: () => hostData(factor(path, 'a')),
        },
        {
          name: `${KEY_PREFIX}${path}.${embedding ? 'lora_embedding_B' : 'lora_B.weight'}`,
          dtype: 'F32',
          shape: [module.bShape[0]!, rank, ...module.bShape.slice(2)],
          data: () => hostData(factor(path, 'b')),
        },
      );
    }
    mkdirSync(outPath, { recursive: true });
    await writeSafetensors(join(outPath, WEIGHTS_NAME), entries, { metadata: { format: 'pt' } });
    writeTextAtomically(join(outPath, CONFIG_NAME), configJson(config));
    return { outDir: outPath, type, config, modules: merged };
  } finally {
    for (const file of files) file.close();
  }
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/** Every module of every adapter, first by adapter then in file order; shapes must agree across adapters. */
function moduleUnion(files: readonly AdapterFile[]): Map<string, ModuleEntry> {
  const modules = new Map<string, ModuleEntry>();
  for (const file of files) {
    for (const [path, entry] of file.modules) {
      const seen = modules.get(path);
      if (!seen) {
        modules.set(path, entry);
        continue;
      }
      const sameOuter =
        seen.kind === entry.kind &&
        seen.aShape.length === entry.aShape.length &&
        seen.aShape.slice(1).every((d, i) => d === entry.aShape[i + 1]) &&
        seen.bShape[0] === entry.bShape[0];
      if (!sameOuter) {
        throw new AdapterError(
          `[combineAdapterFiles] module ${path} differs between adapters: ${seen.kind} lora_A [${seen.aShape.join(', ')}] / lora_B [${seen.bShape.join(', ')}] vs ${file.dir}: ${entry.kind} lora_A [${entry.aShape.join(', ')}] / lora_B [${entry.bShape.join(', ')}] (adapters of different base models?)`,
        );
      }
    }
  }
  return modules;
}

function combineModule(
  path: string,
  files: readonly AdapterFile[],
  weights: readonly number[],
  strategy: MergeStrategy,
  type: string,
  rank: number,
  config: LoraConfig,
  options: MergeStrategyOptions,
): { a: Tensor; b: Tensor } {
  const sources: MergeSource[] = [];
  let kind: ModuleEntry['kind'] = 'linear';
  files.forEach((file, i) => {
    const entry = file.modules.get(path);
    if (!entry) return;
    kind = entry.kind;
    const { r, scaling } = file.scaling(path);
    if (entry.aShape[0] !== r) {
      throw new AdapterError(
        `[combineAdapterFiles] ${file.dir}: module ${path} has rank ${entry.aShape[0]} in ${WEIGHTS_NAME} but r=${r} in ${CONFIG_NAME}`,
      );
    }
    const a = file.read(entry.aKey);
    const b = file.read(entry.bKey);
    sources.push({
      adapter: file.dir,
      weight: weights[i]!,
      scaling,
      r,
      a,
      b,
      delta: () => baseLayoutDelta(entry.kind, a, b, scaling, file.config.fanInFanOut),
    });
  });
  const context: MergeLayerContext = {
    get layer(): never {
      throw new MergeError(
        `[combineAdapterFiles] combination type "${type}" reads the LoRA layer, which adapter-file merges do not have (no base model is loaded); use addWeightedAdapter`,
      );
    },
    kind,
    modulePath: path,
    sources,
    rank,
    fanInFanOut: kind === 'linear' && config.fanInFanOut,
    options,
  };
  const { a, b } = strategy.combine(context);
  return { a: padRank(a, 0, rank), b: padRank(b, 1, rank) };
}

/** Zero-pads the rank dimension to the merged rank (a smaller truncation, or a rank_pattern module). */
function padRank(t: Tensor, dim: 0 | 1, rank: number): Tensor {
  const have = t.shape[dim]!;
  if (have === rank) return t;
  if (have > rank) {
    throw new MergeError(
      `[combineAdapterFiles] a strategy returned rank ${have}, above the merged rank ${rank}`,
    );
  }
  const shape = [...t.shape];
  shape[dim] = rank;
  const out = zeros(shape, { dtype: t.dtype, backend: t.backend.name });
  out.narrow(dim, 0, have).assign(t);
  return out;
}

function hostData(t: Tensor): Float32Array | Float64Array {
  return t.contiguous().toArray() as Float32Array | Float64Array;
}

/** adapter_config.json as saveAdapter writes it (inference_mode true, an empty base path as null). */
function configJson(config: LoraConfig): string {
  const dict = config.toPeftDict();
  dict.inference_mode = true;
  if (dict.base_model_name_or_path === '') dict.base_model_name_or_path = null;
  return dumpPythonJson(dict);
}
