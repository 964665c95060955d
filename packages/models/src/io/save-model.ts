import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Dtype as FileDtype,
  type TensorEntry,
  writeAtomically,
  writeSafetensors,
} from '@lorakit/safetensors';
import type { Dtype, Tensor } from '@lorakit/tensor';
import { ModelError } from '../errors.js';
import type { PreTrainedModel } from '../pretrained-model.js';

export interface SaveModelOptions {
  /**
   * Largest shard in bytes (or "5GB", "500MB", "100KB": decimal units as transformers parses them).
   * Default "50GB", transformers' default. A bigger checkpoint is split into
   * `model-00001-of-0000N.safetensors` files plus `model.safetensors.index.json`.
   */
  readonly maxShardSize?: number | string;
  /** Stored dtype (default: each parameter's own). */
  readonly dtype?: 'float32' | 'float16' | 'bfloat16';
}

const FILE_DTYPES: Partial<Record<Dtype, FileDtype>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
};

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

function parseSize(size: number | string): number {
  if (typeof size === 'number' && Number.isFinite(size) && size > 0) return size;
  const match = typeof size === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)\s*$/i.exec(size) : null;
  if (!match) {
    throw new ModelError(
      `[saveModel] maxShardSize must be a positive byte count or a size like "5GB", received ${JSON.stringify(size)}`,
    );
  }
  return Number(match[1]) * UNITS[match[2]!.toUpperCase()]!;
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

function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(sortKeys(value), null, 2)}\n`);
}

/**
 * Writes a transformers checkpoint folder: config.json (the loaded config with `architectures` set to
 * this model's class) and the weights as `model.safetensors`, or as shards with
 * `model.safetensors.index.json` when they exceed `maxShardSize` (filled in parameter order, as
 * transformers does). Tied weights are stored once (the source name), and each file is written to a
 * temporary name and renamed into place, so a failure never leaves a truncated file.
 */
export async function saveModel(
  model: PreTrainedModel,
  dir: string,
  options: SaveModelOptions = {},
): Promise<void> {
  const maxShardSize = parseSize(options.maxShardSize ?? '50GB');
  mkdirSync(dir, { recursive: true });
  const tiedTargets = new Set(model.tiedWeights().map(([target]) => target));
  const entries: { name: string; value: Tensor; bytes: number; dtype: FileDtype }[] = [];
  for (const [name, value] of model.stateDict()) {
    if (tiedTargets.has(name)) continue;
    const dtype = FILE_DTYPES[options.dtype ?? value.dtype];
    if (!dtype)
      throw new ModelError(`[saveModel] tensor "${name}" has dtype ${value.dtype}, which is not saved`);
    const itemSize = dtype === 'F64' ? 8 : dtype === 'F32' ? 4 : 2;
    entries.push({ name, value, bytes: value.size * itemSize, dtype });
  }

  const shards: (typeof entries)[] = [];
  let current: typeof entries = [];
  let currentSize = 0;
  for (const entry of entries) {
    if (entry.bytes > maxShardSize) {
      shards.push([entry]);
      continue;
    }
    if (currentSize + entry.bytes > maxShardSize && current.length > 0) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(entry);
    currentSize += entry.bytes;
  }
  if (current.length > 0) shards.push(current);

  const toEntry = (e: (typeof entries)[number]): TensorEntry => ({
    name: e.name,
    dtype: e.dtype,
    shape: e.value.shape,
    data: () => e.value.toArray() as Float32Array | Float64Array,
  });
  const metadata = { format: 'pt' };
  const sharded = shards.length > 1;
  const names = shards.map((_, i) =>
    sharded
      ? `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`
      : 'model.safetensors',
  );
  for (const [i, shard] of shards.entries()) {
    await writeSafetensors(join(dir, names[i]!), shard.map(toEntry), { metadata });
  }
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (sharded) {
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) for (const e of shard) weightMap[e.name] = names[i]!;
    const index = {
      metadata: {
        total_parameters: model.numParameters(),
        total_size: entries.reduce((n, e) => n + e.bytes, 0),
      },
      weight_map: weightMap,
    };
    await writeAtomically(indexPath, (write) => write(jsonBytes(index)));
  }
  // Files of an earlier save that this one does not replace would shadow or confuse it.
  const keep = new Set(names);
  for (const file of readdirSync(dir)) {
    const stale =
      /^model-\d{5}-of-\d{5}\.safetensors$/.test(file) || (sharded && file === 'model.safetensors');
    if (stale && !keep.has(file)) rmSync(join(dir, file));
  }
  if (!sharded && existsSync(indexPath)) rmSync(indexPath);

  const config = {
    ...model.config.raw,
    architectures: [model.architecture],
    model_type: model.config.modelType,
    dtype: options.dtype ?? model.parameters()[0]?.dtype ?? 'float32',
  };
  await writeAtomically(join(dir, 'config.json'), (write) => write(jsonBytes(config)));
}
