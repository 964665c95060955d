import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Dtype, type TensorEntry, writeAtomically, writeSafetensors } from '@lorakit/safetensors';
import { CliError } from '../errors.js';

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
};

/** "5GB", "500MB", "100KB" (decimal, as transformers parses them) or a byte count. */
export function parseShardSize(size: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*$/i.exec(size);
  if (!match || Number(match[1]) <= 0) {
    throw new CliError(
      `--max-shard-size must be a size like 5GB, 500MB or a byte count, received ${JSON.stringify(size)}`,
    );
  }
  return Number(match[1]) * UNITS[(match[2] ?? 'B').toUpperCase()]!;
}

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

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(sortKeys(value), null, 2)}\n`);
}

/** A tensor to write whose data is computed only when the writer reaches it. */
export interface LazyTensor {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: () => Float32Array | Float64Array;
}

/**
 * Writes a checkpoint folder the way @lorakit/models' saveModel does — `model.safetensors`, or
 * `model-0000i-of-0000N.safetensors` shards filled in order up to `maxShardSize` plus
 * `model.safetensors.index.json`, and config.json with sorted keys — but from lazily computed tensors,
 * so only one tensor is in memory at a time. Stale shards of an earlier save are removed.
 */
export async function writeCheckpoint(
  dir: string,
  tensors: readonly LazyTensor[],
  config: Record<string, unknown>,
  options: { maxShardSize: number; onTensor?: (done: number, total: number) => void },
): Promise<{ files: string[]; bytes: number }> {
  mkdirSync(dir, { recursive: true });
  const shards: LazyTensor[][] = [];
  let current: LazyTensor[] = [];
  let currentSize = 0;
  let totalBytes = 0;
  let totalParameters = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    const bytes = count * (ITEM_SIZE[tensor.dtype] ?? 4);
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
      metadata: { total_parameters: totalParameters, total_size: totalBytes },
      weight_map: weightMap,
    };
    await writeAtomically(indexPath, (write) => write(jsonBytes(index)));
  }
  const keep = new Set(names);
  for (const file of readdirSync(dir)) {
    const stale =
      /^model-\d{5}-of-\d{5}\.safetensors$/.test(file) || (sharded && file === 'model.safetensors');
    if (stale && !keep.has(file)) rmSync(join(dir, file));
  }
  if (!sharded && existsSync(indexPath)) rmSync(indexPath);
  await writeAtomically(join(dir, 'config.json'), (write) => write(jsonBytes(config)));
  return { files: sharded ? [...names, 'model.safetensors.index.json'] : names, bytes: totalBytes };
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
];

/** Copies the tokenizer and generation files of a checkpoint, so the merged folder is usable alone. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const file of TOKENIZER_FILES) {
    if (existsSync(join(from, file))) {
      copyFileSync(join(from, file), join(to, file));
      copied.push(file);
    }
  }
  return copied;
}
