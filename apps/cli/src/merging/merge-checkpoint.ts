import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { saveModel } from '@lorakit/models';
import type { Dtype } from '@lorakit/safetensors';
import { CliError } from '../errors.js';
import { attachAdapter, loadBaseModel } from '../loading.js';
import { requireAdapterDirectory, requireModelDirectory } from '../paths.js';
import { registerInitPlugins } from '../plugins.js';
import { copyTokenizerFiles, parseShardSize, writeCheckpoint } from './checkpoint-writer.js';
import { mergedTensors } from './streaming-merge.js';

export interface MergeFlags {
  model: string;
  adapter: string;
  out: string;
  safe?: boolean;
  maxShardSize: string;
  dtype?: string;
  inMemory?: boolean;
}

const DTYPES: Readonly<Record<string, Dtype>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

export interface MergeResult {
  readonly mode: 'streaming' | 'in-memory';
  readonly reason: string | undefined;
  readonly modules: number;
  readonly files: string[];
  readonly bytes: number;
}

/**
 * Merges an adapter into its base and writes a full checkpoint. Streaming (one tensor at a time) when the
 * adapter is plain factors on weights the checkpoint stores under the model's names; otherwise the model
 * is loaded whole, merged with mergeAndUnload and written with saveModel.
 */
export async function mergeToCheckpoint(
  flags: MergeFlags,
  onProgress: (done: number, total: number) => void,
): Promise<MergeResult> {
  requireModelDirectory(flags.model, '--model directory');
  requireAdapterDirectory(flags.adapter);
  await registerInitPlugins();
  const maxShardSize = parseShardSize(flags.maxShardSize);
  const dtype = flags.dtype === undefined ? undefined : DTYPES[flags.dtype];
  if (flags.dtype !== undefined && !dtype) {
    throw new CliError(
      `--dtype must be one of ${Object.keys(DTYPES).join(', ')}, received ${JSON.stringify(flags.dtype)}`,
    );
  }
  // Loading the adapter onto the model checks that it fits (module names and shapes) before anything is
  // written; for the streaming path only the skeleton check runs here (no weights are merged yet).
  const plan = mergedTensors(flags.model, flags.adapter, { safeMerge: Boolean(flags.safe), dtype });
  try {
    const reason = flags.inMemory ? '--in-memory' : plan.blocker;
    if (reason === undefined) {
      checkShapes(plan, flags);
      const config = {
        ...plan.modelConfig.raw,
        architectures: plan.modelConfig.architectures.length ? plan.modelConfig.architectures : undefined,
        dtype: flags.dtype ?? plan.modelConfig.raw.dtype ?? plan.modelConfig.raw.torch_dtype ?? 'float32',
      };
      const written = await writeCheckpoint(flags.out, plan.tensors, config, {
        maxShardSize,
        onTensor: onProgress,
      });
      copyTokenizerFiles(flags.model, flags.out);
      return { mode: 'streaming', reason: undefined, modules: plan.targets, ...written };
    }
    const model = await loadBaseModel(flags.model);
    const peft = attachAdapter(model, flags.adapter, flags.model);
    const modules = peft.loraLayers().length;
    const merged = peft.mergeAndUnload({ safeMerge: Boolean(flags.safe), onProgress });
    await saveModel(merged as typeof model, flags.out, {
      maxShardSize,
      dtype: flags.dtype as 'float32' | 'float16' | 'bfloat16' | undefined,
    });
    copyTokenizerFiles(flags.model, flags.out);
    const files = readdirSync(flags.out)
      .filter((f) => /^model.*\.safetensors(\.index\.json)?$/.test(f))
      .sort();
    const bytes = files
      .filter((f) => f.endsWith('.safetensors'))
      .reduce((n, f) => n + statSync(join(flags.out, f)).size, 0);
    return { mode: 'in-memory', reason, modules, files, bytes };
  } finally {
    plan.base.close();
    plan.adapter.close();
  }
}

/** Every adapter factor must fit its base weight; the error names the modules that do not. */
function checkShapes(plan: ReturnType<typeof mergedTensors>, flags: MergeFlags): void {
  const problems: string[] = [];
  const missing: string[] = [];
  const present = new Set(plan.base.names());
  for (const key of plan.adapter.names()) {
    const match =
      /^base_model\.model\.(.+)\.(lora_A\.weight|lora_B\.weight|lora_embedding_A|lora_embedding_B)$/.exec(
        key,
      );
    if (!match) continue;
    const [, module, part] = match as unknown as [string, string, string];
    const weightName = `${module}.weight`;
    if (!present.has(weightName)) {
      missing.push(module);
      continue;
    }
    const [out, inFeatures] = plan.base.info(weightName).shape as [number, number];
    const shape = plan.adapter.info(key).shape;
    const conv1d = plan.modelConfig.modelType === 'gpt2' && /(c_attn|c_proj|c_fc)$/.test(module);
    const [rows, columns] = conv1d ? [inFeatures, out] : [out, inFeatures];
    const ok =
      part === 'lora_A.weight'
        ? shape[1] === columns
        : part === 'lora_B.weight'
          ? shape[0] === rows
          : part === 'lora_embedding_A'
            ? shape[1] === out
            : shape[0] === inFeatures;
    if (!ok) problems.push(`${module} (${part} [${shape.join(', ')}] vs weight [${out}, ${inFeatures}])`);
  }
  if (missing.length || problems.length) {
    const parts = [];
    if (missing.length) parts.push(`modules not in the model: ${missing.join(', ')}`);
    if (problems.length) parts.push(`shape mismatches: ${problems.join(', ')}`);
    throw new CliError(
      `adapter ${flags.adapter} does not fit the model in ${flags.model}: ${parts.join('; ')}`,
    );
  }
}
