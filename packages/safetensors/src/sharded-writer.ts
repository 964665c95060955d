import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DTYPE_SIZE, shapeSize } from './dtypes.js';
import { SAVE_ID_KEY } from './sharded.js';
import { type TensorEntry, writeAtomically, writeSafetensors } from './writer.js';

export interface ShardedWriteOptions {
  /** Largest shard in bytes; a tensor larger than this gets a shard of its own. */
  readonly maxShardSize: number;
  /** File name stem (default "model": `model.safetensors`, `model-00001-of-00003.safetensors`). */
  readonly prefix?: string;
  /** Called after each tensor's values are produced (progress). */
  readonly onTensor?: (done: number, total: number) => void;
}

/** Sorted keys at every level, as Python's `json.dumps(…, sort_keys=True)` writes the index. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * Writes tensors as one `<prefix>.safetensors`, or — when they exceed `maxShardSize` — as shards
 * `<prefix>-0000i-of-0000N.safetensors` filled in order (transformers' layout) plus
 * `<prefix>.safetensors.index.json` (`metadata.total_size`, `metadata.total_parameters`, `weight_map`).
 * Every shard's `__metadata__` and the index carry the same random {@link SAVE_ID_KEY}, so a reader
 * refuses a shard of another save. Writes into `dir` as it is (files are written atomically one by
 * one); to replace a checkpoint as a whole, call this inside `replaceFolder`. Returns the file names
 * and the bytes of tensor data.
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: readonly TensorEntry[],
  options: ShardedWriteOptions,
): Promise<{ files: string[]; bytes: number }> {
  const prefix = options.prefix ?? 'model';
  const shards: TensorEntry[][] = [];
  let current: TensorEntry[] = [];
  let currentSize = 0;
  let totalBytes = 0;
  let totalParameters = 0;
  for (const tensor of tensors) {
    const count = shapeSize(tensor.shape);
    const bytes = count * DTYPE_SIZE[tensor.dtype];
    totalBytes += bytes;
    totalParameters += count;
    if (bytes > options.maxShardSize) {
      shards.push([tensor]);
      continue;
    }
    if (currentSize + bytes > options.maxShardSize && current.length > 0) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(tensor);
    currentSize += bytes;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  const sharded = shards.length > 1;
  const pad = (n: number) => String(n).padStart(5, '0');
  const names = shards.map((_, i) =>
    sharded ? `${prefix}-${pad(i + 1)}-of-${pad(shards.length)}.safetensors` : `${prefix}.safetensors`,
  );
  const saveId = randomUUID();
  const metadata: Record<string, string> = sharded
    ? { format: 'pt', [SAVE_ID_KEY]: saveId }
    : { format: 'pt' };
  let done = 0;
  for (const [i, shard] of shards.entries()) {
    const entries = shard.map((t) => ({
      ...t,
      data: async () => {
        const data = typeof t.data === 'function' ? await t.data() : t.data;
        options.onTensor?.(++done, tensors.length);
        return data;
      },
    }));
    await writeSafetensors(join(dir, names[i]!), entries, { metadata });
  }
  if (!sharded) return { files: names, bytes: totalBytes };
  const weightMap: Record<string, string> = {};
  for (const [i, shard] of shards.entries()) for (const t of shard) weightMap[t.name] = names[i]!;
  const index = {
    metadata: { total_parameters: totalParameters, total_size: totalBytes, [SAVE_ID_KEY]: saveId },
    weight_map: weightMap,
  };
  const indexName = `${prefix}.safetensors.index.json`;
  const text = `${JSON.stringify(sortKeys(index), null, 2)}\n`;
  await writeAtomically(join(dir, indexName), (write) => write(new TextEncoder().encode(text)));
  return { files: [...names, indexName], bytes: totalBytes };
}
