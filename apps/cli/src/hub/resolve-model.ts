import { LoraConfig } from '@lorakit/lora';
import type { CommandContext } from '../context.js';
import { downloadModel, isHubModelId } from './hub-download.js';

/** `--revision`'s help line, shared by the commands that take a Hub id for --model. */
export const REVISION_HELP = 'branch, tag or commit of a Hub --model (default main)';

const MIB = 1024 * 1024;

/**
 * The local folder of `--model`: a folder as given, or for a Hub id (`org/name`, when no such folder
 * exists) the snapshot in the Hugging Face cache, downloaded first when missing — with a progress bar in
 * MiB, a line per file fetched, and the cache's path on --verbose.
 */
export async function resolveModelArgument(
  model: string,
  options: { revision?: string; context: CommandContext },
): Promise<string> {
  if (!isHubModelId(model)) return model;
  const { context } = options;
  let bar: ReturnType<CommandContext['progress']> | undefined;
  try {
    const snapshot = await downloadModel(model, {
      revision: options.revision,
      onFile: (path, size) => context.debug(`downloading ${model}/${path} (${(size / MIB).toFixed(1)} MiB)`),
      onProgress: (done, total) => {
        if (total === 0) return;
        bar ??= context.progress({ label: 'download', total: Math.ceil(total / MIB) });
        bar.update(Math.floor(done / MIB), `MiB of ${model}`);
      },
    });
    bar?.finish();
    context.debug(`model ${model}: ${snapshot}`);
    return snapshot;
  } catch (error) {
    bar?.clear();
    throw error;
  }
}

/**
 * The config with `base_model_name_or_path` set to `--model` as given (a Hub id or a folder) when it names
 * none, as PEFT records `model.name_or_path`, so the adapter says which base it was trained on.
 */
export function withBaseModelName(config: LoraConfig, model: string): LoraConfig {
  if (config.baseModelNameOrPath) return config;
  return new LoraConfig({ ...config.toOptions(), baseModelNameOrPath: model });
}
