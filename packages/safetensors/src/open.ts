import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFormatError } from './errors.js';
import { SafetensorsFile } from './reader.js';
import { ShardedSafetensors } from './sharded.js';
import type { TensorSource } from './tensor-source.js';

/**
 * Opens tensors from a path that is a `.safetensors` file, a `*.safetensors.index.json` shard index, or
 * a folder holding `model.safetensors` or `model.safetensors.index.json` (as transformers saves them).
 */
export function openTensorSource(path: string): TensorSource {
  if (!existsSync(path)) throw new SafetensorsFormatError(`[safetensors] ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    for (const candidate of ['model.safetensors', 'model.safetensors.index.json']) {
      const full = join(path, candidate);
      if (existsSync(full)) return openTensorSource(full);
    }
    throw new SafetensorsFormatError(
      `[safetensors] folder ${path} has neither model.safetensors nor model.safetensors.index.json`,
    );
  }
  return path.endsWith('.index.json') ? ShardedSafetensors.open(path) : SafetensorsFile.open(path);
}
