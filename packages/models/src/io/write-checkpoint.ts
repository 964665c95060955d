import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Dtype, type TensorEntry, writeAtomically, writeSafetensors } from '@lorakit/safetensors';
import { ModelError } from '../errors.js';

const ITEM_SIZE: Partial<Record<Dtype, number>> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
const UNITS: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/**
 * A shard size: a positive byte count or a string like "5GB", "500MB", "2GiB" (decimal units as
 * transformers parses them). `option` names the setting in the error message.
 */
export function parseShardSize(size: number | string, option = 'maxShardSize'): number {
  if (typeof size === 'number' && Number.isFinite(size) && size > 0) return size;
  const match = typeof size === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$/i.exec(size) : null;
  if (!match || Number(match[1]) <= 0) {
    throw new ModelError(
      `[saveModel] ${option} must be a positive byte count or a size like "5GB", received ${JSON.stringify(size)}`,
    );
  }
  return Number(match[1]) * UNITS[(match[2] ?? 'B').toUpperCase()]!;
}

/** Sorted keys at every level, so the JSON matches Python's `json.dumps(…, sort_keys=True)`. */
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

/** JSON as transformers writes config.json and the shard index (sorted keys, indent 2, newline). */
export function checkpointJson(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(sortKeys(value), null, 2)}\n`);
}

/** A tensor to write whose data is computed only when the writer reaches it. */
export interface LazyTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: () => Float32Array | Float64Array | Uint16Array;
}

export interface WriteCheckpointOptions {
  /** Largest shard in bytes (see {@link parseShardSize}); one file when everything fits. */
  readonly maxShardSize: number;
  /** Called after each tensor is produced (progress). */
  readonly onTensor?: (done: number, total: number) => void;
  /** `total_parameters` for the index (default: the element count of all tensors). */
  readonly totalParameters?: number;
}

/**
 * Writes a transformers checkpoint folder from lazily computed tensors, one in memory at a time:
 * `model.safetensors`, or `model-0000i-of-0000N.safetensors` shards filled in order up to
 * `maxShardSize` plus `model.safetensors.index.json`, and `config.json` with sorted keys. Every file is
 * written to a temporary name and renamed; stale shards of an earlier save are removed.
 */
export async function writeCheckpoint(
  dir: string,
  tensors: readonly LazyTensor[],
  config: Record<string, unknown>,
  options: WriteCheckpointOptions,
): Promise<{ files: string[]; bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const shards: LazyTensor[][] = [];
  let current: LazyTensor[] = [];
  let currentSize = 0;
  let totalBytes = 0;
  let totalParameters = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    const itemSize = ITEM_SIZE[tensor.dtype];
    if (!itemSize)
      throw new ModelError(
        `[saveModel] tensor "${tensor.name}" has dtype ${tensor.dtype}, which is not saved`,
      );
    const bytes = count * itemSize;
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
  if (current.length > 0) shards.push(current);
  const sharded = shards.length > 1;
  const names = shards.map((_, i) =>
    sharded
      ? `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`
      : 'model.safetensors',
  );
  let done = 0;
  for (const [i, shard] of shards.entries()) {
    const entries: TensorEntry[] = shard.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: () => {
        const data = t.data();
        options.onTensor?.(++done, tensors.length);
        return data;
      },
    }));
    await writeSafetensors(join(dir, names[i]!), entries, { metadata: { format: 'pt' } });
  }
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (sharded) {
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) for (const t of shard) weightMap[t.name] = names[i]!;
    const index = {
      metadata: { total_parameters: options.totalParameters ?? totalParameters, total_size: totalBytes },
      weight_map: weightMap,
    };
    await writeAtomically(indexPath, (write) => write(checkpointJson(index)));
  }
  // Files of an earlier save that this one does not replace would shadow or confuse it.
  const keep = new Set(names);
  for (const file of readdirSync(dir)) {
    const stale =
      /^model-\d{5}-of-\d{5}\.safetensors$/.test(file) || (sharded && file === 'model.safetensors');
    if (stale && !keep.has(file)) rmSync(join(dir, file));
  }
  if (!sharded && existsSync(indexPath)) rmSync(indexPath);
  await writeAtomically(join(dir, 'config.json'), (write) => write(checkpointJson(config)));
  return { files: sharded ? [...names, 'model.safetensors.index.json'] : names, bytes: totalBytes };
}
