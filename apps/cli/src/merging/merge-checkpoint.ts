import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointJson, saveModel } from '@lorakit/models';
import {
  type Dtype,
  LorakitError,
  replaceFolder,
  writeAtomically,
  writeShardedSafetensors,
} from '@lorakit/safetensors';
import { CliError, EXIT } from '../errors.js';
import { attachAdapter, loadBaseModel } from '../loading.js';
import { requireAdapterDirectory, requireModelDirectory } from '../paths.js';
import { registerInitPlugins } from '../plugins.js';
import { requireResidualBase } from '../residual-base.js';
import { copyTokenizerFiles, type LazyTensor, parseShardSize, TOKENIZER_FILES } from './checkpoint-writer.js';
import { checkStreamingFit, mergedTensors } from './streaming-merge.js';

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

/** Files a merge writes into --out; everything else there is kept (see `replaceFolder`). */
function ownedByMerge(relativePath: string): boolean {
  return (
    /^model(-\d{5}-of-\d{5})?\.safetensors$/.test(relativePath) ||
    relativePath === 'model.safetensors.index.json' ||
    relativePath === 'config.json' ||
    TOKENIZER_FILES.includes(relativePath)
  );
}

/**
 * Merges an adapter into its base and writes a full checkpoint. Streaming (one tensor at a time) when the
 * adapter is plain factors on weights the checkpoint stores under the model's names; otherwise the model
 * is loaded whole, merged with mergeAndUnload and written with saveModel.
 *
 * --out is replaced as a whole: the checkpoint is written into a sibling folder and swapped in only when
 * complete (`replaceFolder`), so a failure — NaN in a safe merge, a kill — leaves --out as it was (or
 * absent), never a mix of shards of two saves, never an empty folder. An impossible --out fails before
 * any work.
 */
export async function mergeToCheckpoint(
  flags: MergeFlags,
  onProgress: (done: number, total: number) => void,
): Promise<MergeResult> {
  requireModelDirectory(flags.model, '--model directory');
  requireAdapterDirectory(flags.adapter);
  requireResidualBase(flags.adapter, flags.model);
  await registerInitPlugins();
  const maxShardSize = parseShardSize(flags.maxShardSize);
  const dtype = flags.dtype === undefined ? undefined : DTYPES[flags.dtype];
  if (flags.dtype !== undefined && !dtype) {
    throw new CliError(
      `--dtype must be one of ${Object.keys(DTYPES).join(', ')}, received ${JSON.stringify(flags.dtype)}`,
    );
  }
  let result: MergeResult | undefined;
  await replaceFolder(
    flags.out,
    async (staging) => {
      result = await mergeInto(staging, flags, { maxShardSize, dtype }, onProgress);
    },
    { owns: ownedByMerge, operation: 'merge --out' },
  );
  return result!;
}

async function mergeInto(
  out: string,
  flags: MergeFlags,
  options: { maxShardSize: number; dtype: Dtype | undefined },
  onProgress: (done: number, total: number) => void,
): Promise<MergeResult> {
  const { maxShardSize, dtype } = options;
  // The streaming path checks the whole adapter against the checkpoint before the first tensor is
  // merged (loadAdapter's own check); the in-memory path loads it with loadAdapter.
  const plan = mergedTensors(flags.model, flags.adapter, { safeMerge: Boolean(flags.safe), dtype });
  try {
    const reason = flags.inMemory ? '--in-memory' : plan.blocker;
    if (reason === undefined) {
      try {
        checkStreamingFit(plan.targets, plan.base, plan.adapter, plan.config, plan.modelConfig);
      } catch (error) {
        throw new CliError(
          `adapter ${flags.adapter} does not fit the model in ${flags.model}: ${(error as Error).message.replace(/^\[[^\]]+\]\s*/, '')}`,
          { cause: error },
        );
      }
      const config = {
        ...plan.modelConfig.raw,
        architectures: plan.modelConfig.architectures.length ? plan.modelConfig.architectures : undefined,
        dtype: flags.dtype ?? plan.modelConfig.raw.dtype ?? plan.modelConfig.raw.torch_dtype ?? 'float32',
      };
      // Shards carry a shared save id (the reader refuses a shard of another save).
      const written = await writeShardedSafetensors(out, namedFailures(plan.tensors, flags), {
        maxShardSize,
        onTensor: onProgress,
      });
      await writeAtomically(join(out, 'config.json'), (write) => write(checkpointJson(config)));
      copyTokenizerFiles(flags.model, out);
      return { mode: 'streaming', reason: undefined, modules: plan.targets.size, ...written };
    }
    const model = await loadBaseModel(flags.model);
    const peft = attachAdapter(model, flags.adapter, flags.model);
    const modules = peft.loraLayers().length;
    const merged = peft.mergeAndUnload({ safeMerge: Boolean(flags.safe), onProgress });
    await saveModel(merged as typeof model, out, {
      maxShardSize,
      dtype: flags.dtype as 'float32' | 'float16' | 'bfloat16' | undefined,
    });
    copyTokenizerFiles(flags.model, out);
    const files = readdirSync(out)
      .filter((f) => /^model.*\.safetensors(\.index\.json)?$/.test(f))
      .sort();
    const bytes = files
      .filter((f) => f.endsWith('.safetensors'))
      .reduce((n, f) => n + statSync(join(out, f)).size, 0);
    return { mode: 'in-memory', reason, modules, files, bytes };
  } finally {
    plan.base.close();
    plan.adapter.close();
  }
}

/** Errors while producing a merged tensor name the tensor, the base checkpoint and the adapter file. */
function namedFailures(tensors: readonly LazyTensor[], flags: MergeFlags): LazyTensor[] {
  return tensors.map((t) => ({
    ...t,
    data: () => {
      try {
        return t.data();
      } catch (error) {
        const message = (error as Error).message;
        throw new CliError(
          `merging tensor ${t.name} of ${flags.model} with ${join(flags.adapter, 'adapter_model.safetensors')} failed: ${message}`,
          { cause: error, exitCode: error instanceof LorakitError ? EXIT.badInput : EXIT.failure },
        );
      }
    },
  }));
}
