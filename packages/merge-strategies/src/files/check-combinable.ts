import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { AdapterError, checkTargetModule, type LoraConfig } from '@lorakit/lora';
import type { AdapterFile } from './adapter-file.js';

/** A recorded base model, with local folders compared by their real path (`./llama` = `/abs/llama`). */
function baseIdentity(name: string): string {
  return existsSync(name) ? realpathSync(resolve(name)) : name;
}

function firstDifferent<T>(
  files: readonly AdapterFile[],
  value: (file: AdapterFile) => T | null,
  same: (a: T, b: T) => boolean,
): [AdapterFile, T, AdapterFile, T] | undefined {
  const recorded = files.flatMap((file) => {
    const v = value(file);
    return v === null ? [] : [[file, v] as const];
  });
  const [first] = recorded;
  if (!first) return undefined;
  const other = recorded.find(([, v]) => !same(first[1], v));
  return other ? [first[0], first[1], other[0], other[1]] : undefined;
}

/**
 * add_weighted_adapter combines adapters living on one model; from files alone that has to be checked.
 * Refuses adapters that record different base models (`base_model_name_or_path`, the base model class in
 * `auto_mapping`) or task types, and adapters with no module in common whose module paths start
 * differently (`model.…` vs `transformer.…`: two architectures, whatever the configs say).
 */
export function checkSameBase(files: readonly AdapterFile[]): void {
  const base = firstDifferent(
    files,
    (f) => (f.config.baseModelNameOrPath ? f.config.baseModelNameOrPath : null),
    (a, b) => a === b || baseIdentity(a) === baseIdentity(b),
  );
  if (base) {
    throw new AdapterError(
      `[combineAdapterFiles] the adapters were trained on different base models: ${base[0].dir} has base_model_name_or_path ${JSON.stringify(base[1])}, ${base[2].dir} has ${JSON.stringify(base[3])}; combine adapters of one base`,
    );
  }
  const modelClass = firstDifferent(
    files,
    (f) => {
      const name = f.config.autoMapping?.base_model_class;
      return typeof name === 'string' ? name : null;
    },
    (a, b) => a === b,
  );
  if (modelClass) {
    throw new AdapterError(
      `[combineAdapterFiles] the adapters were trained on different model classes: ${modelClass[0].dir} on ${modelClass[1]}, ${modelClass[2].dir} on ${modelClass[3]}; combine adapters of one base`,
    );
  }
  const task = firstDifferent(
    files,
    (f) => f.config.taskType,
    (a, b) => a === b,
  );
  if (task) {
    throw new AdapterError(
      `[combineAdapterFiles] the adapters have different task_type: ${task[0].dir} ${task[1]}, ${task[2].dir} ${task[3]}; combine adapters of one base and task`,
    );
  }
  const root = (path: string) => path.split('.')[0]!;
  for (let i = 1; i < files.length; i++) {
    const [a, b] = [files[0]!, files[i]!];
    const shared = [...b.modules.keys()].some((path) => a.modules.has(path));
    const rootsA = new Set([...a.modules.keys()].map(root));
    const rootsB = [...new Set([...b.modules.keys()].map(root))];
    if (!shared && rootsB.every((r) => !rootsA.has(r))) {
      throw new AdapterError(
        `[combineAdapterFiles] ${a.dir} and ${b.dir} share no module and their module paths start differently (${[...rootsA].join(', ')} vs ${rootsB.join(', ')}): adapters of different base models; combine adapters of one base`,
      );
    }
  }
}

/**
 * The combined config must target every module the merged file holds, or no base model could load the
 * result (PEFT's add_weighted_adapter keeps the first adapter's layers_to_transform, layers_pattern and
 * exclude_modules). Refuses, naming the first module that the merged config would not target.
 */
export function checkTargetsCovered(
  files: readonly AdapterFile[],
  config: LoraConfig,
  modules: ReadonlyMap<string, unknown>,
): void {
  for (const path of modules.keys()) {
    if (checkTargetModule(config, path) === 'match') continue;
    const owner = files.find((f) => f.modules.has(path))!;
    const first = files[0]!;
    throw new AdapterError(
      `[combineAdapterFiles] module ${path} of ${owner.dir} would not be a target of the combined adapter, whose target_modules ${JSON.stringify(config.targetModules instanceof Set ? [...config.targetModules] : config.targetModules)}, layers_to_transform ${JSON.stringify(config.layersToTransform)} and exclude_modules ${JSON.stringify(config.excludeModules instanceof Set ? [...config.excludeModules] : config.excludeModules)} come from ${first.dir}; no base model could load the result — combine adapters with the same layer selection`,
    );
  }
}
