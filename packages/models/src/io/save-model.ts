import type { Dtype as FileDtype } from '@lorakit/safetensors';
import type { Dtype } from '@lorakit/tensor';
import { ModelError } from '../errors.js';
import type { PreTrainedModel } from '../pretrained-model.js';
import { type LazyTensor, parseShardSize, writeCheckpoint } from './write-checkpoint.js';

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
  const maxShardSize = parseShardSize(options.maxShardSize ?? '50GB');
  const tiedTargets = new Set(model.tiedWeights().map(([target]) => target));
  const tensors: LazyTensor[] = [];
  for (const [name, value] of model.stateDict()) {
    if (tiedTargets.has(name)) continue;
    const dtype = FILE_DTYPES[options.dtype ?? value.dtype];
    if (!dtype)
      throw new ModelError(`[saveModel] tensor "${name}" has dtype ${value.dtype}, which is not saved`);
    // Float data converts to the stored dtype in the writer (round to nearest even for 16-bit floats).
    tensors.push({
      name,
      dtype,
      shape: value.shape,
      data: () => value.toArray() as Float32Array | Float64Array,
    });
  }
  const config = {
    ...model.config.raw,
    architectures: [model.architecture],
    model_type: model.config.modelType,
    dtype: options.dtype ?? model.parameters()[0]?.dtype ?? 'float32',
  };
  await writeCheckpoint(dir, tensors, config, { maxShardSize, totalParameters: model.numParameters() });
}
