import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  removeStaleTemporaries,
  replaceFolder,
  type TensorEntry,
  temporaryName,
  writeSafetensors,
} from '@lorakit/safetensors';
import type { LoraConfig } from '../config/lora-config.js';
import { dumpPythonJson } from '../config/python-json.js';
import { AdapterError, AdapterFormatError, listNames } from '../errors.js';
import type { PeftModel } from '../model/peft-model.js';
import { adapterTensors } from './adapter-keys.js';

export const CONFIG_NAME = 'adapter_config.json';
export const WEIGHTS_NAME = 'adapter_model.safetensors';

export interface SaveOptions {
  /** Adapters to save (default: all). "default" goes to `dir`, any other to `dir/<name>`. */
  readonly selectedAdapters?: readonly string[];
  /** PEFT's save_embedding_layers (default 'auto'). */
  readonly saveEmbeddingLayers?: boolean | 'auto';
}

/** The architecture name of a model as transformers names its class (e.g. `LlamaForCausalLM`). */
export function architectureOf(model: unknown): string {
  const m = model as { architecture?: string; constructor: { name: string } };
  return m.architecture ?? m.constructor.name;
}

/**
 * The transformers module that defines a model's class, as the model reports it (`transformersModule`,
 * set by @lorakit/models); `__main__` for a model that names none, as PEFT writes for a class it cannot
 * place in a module.
 */
export function transformersModuleOf(model: unknown): string {
  const m = (model as { transformersModule?: unknown }).transformersModule;
  return typeof m === 'string' && m !== '' ? m : '__main__';
}

/** The adapter_config.json text PEFT would write for one adapter. */
export function adapterConfigJson(peft: PeftModel, adapter: string, override?: LoraConfig): string {
  const config = override ?? peft.peftConfig.get(adapter);
  if (!config)
    throw new AdapterError(
      `[saveAdapter] no adapter named "${adapter}"; adapters: ${listNames([...peft.peftConfig.keys()])}`,
    );
  const dict = config.toPeftDict();
  dict.inference_mode = true;
  if (dict.base_model_name_or_path === '') dict.base_model_name_or_path = null;
  if (config.taskType === null && dict.auto_mapping === null) {
    const name = architectureOf(peft.model);
    dict.auto_mapping = { base_model_class: name, parent_library: transformersModuleOf(peft.model) };
  }
  return dumpPythonJson(dict);
}

/**
 * Saves adapters in PEFT's format: `adapter_model.safetensors` (metadata `{"format": "pt"}`) and
 * `adapter_config.json`, for "default" in `dir` and for other adapters in `dir/<name>`.
 *
 * The folder is replaced as a whole (`replaceFolder` of @lorakit/safetensors): every selected adapter is
 * written into a sibling `.<dir>.lorakit-new-<pid>-<tag>` folder, fsynced, and swapped in with two
 * renames, so a reader — or a process killed at any moment — sees the previous weights and config
 * together or the new ones together, never a config of one save beside weights of another. Other files
 * in `dir` (a README, adapters not selected) are kept. Temporaries of killed saves are removed by the
 * next save into the same place.
 */
export async function saveAdapter(
  peft: PeftModel,
  dir: string,
  options: SaveOptions = {},
): Promise<string[]> {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new AdapterFormatError(`[saveAdapter] ${dir} is a file; the adapter is saved into a directory`);
  }
  const adapters = options.selectedAdapters ?? [...peft.peftConfig.keys()];
  const unknown = adapters.filter((a) => !peft.peftConfig.has(a));
  if (unknown.length) {
    throw new AdapterError(
      `[saveAdapter] unknown adapter(s) ${unknown.join(', ')}; adapters: ${listNames([...peft.peftConfig.keys()])}`,
    );
  }
  const folderOf = (adapter: string) => (adapter === 'default' ? '' : adapter);
  const owned = new Set(
    adapters.flatMap((a) => [CONFIG_NAME, WEIGHTS_NAME].map((f) => (folderOf(a) ? `${a}/${f}` : f))),
  );
  await replaceFolder(
    dir,
    async (staging) => {
      for (const adapter of adapters) {
        const target = join(staging, folderOf(adapter));
        if (!existsSync(target)) mkdirSync(target);
        const tensors = adapterTensors(peft, adapter, { saveEmbeddingLayers: options.saveEmbeddingLayers });
        const entries: TensorEntry[] = [...tensors].map(([name, param]) => ({
          name,
          dtype:
            param.dtype === 'float64'
              ? 'F64'
              : param.dtype === 'bfloat16'
                ? 'BF16'
                : param.dtype === 'float16'
                  ? 'F16'
                  : 'F32',
          shape: param.shape,
          data: () => param.contiguous().toArray() as Float32Array,
        }));
        const configText = adapterConfigJson(peft, adapter);
        await writeSafetensors(join(target, WEIGHTS_NAME), entries, { metadata: { format: 'pt' } });
        writeTextAtomically(join(target, CONFIG_NAME), configText);
      }
    },
    { owns: (relative) => owned.has(relative), operation: 'saveAdapter' },
  );
  return adapters.map((a) => (folderOf(a) ? join(dir, a) : dir));
}

/**
 * Writes text to a temporary file beside `path`, fsyncs, and renames it over `path` (temporaries of
 * killed writes to the same path are removed first).
 */
export function writeTextAtomically(path: string, text: string): void {
  removeStaleTemporaries(dirname(path), basename(path), ['tmp']);
  const temporary = join(dirname(path), temporaryName(basename(path), 'tmp'));
  try {
    writeFileSync(temporary, text);
    const fd = openSync(temporary, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
