import { openTensorSource, type TensorSource } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import { LoftqError } from '../errors.js';

/**
 * Opens the unquantized checkpoint: a `.safetensors` file, a shard index, or a folder holding
 * `model.safetensors` or `model.safetensors.index.json`. Tensors are then read one at a time.
 */
export function openCheckpoint(path: string): TensorSource {
  try {
    return openTensorSource(path);
  } catch (cause) {
    throw new LoftqError(
      `[loftq] Could not find file for ${path}, ensure that there is a (sharded) safetensors file of the model.`,
      { cause },
    );
  }
}

/**
 * The checkpoint name of a module weight: `name` itself, else `name` without the model's base prefix
 * (`model.`), as PEFT's `_SafetensorLoader.get_tensor` retries.
 */
export function checkpointName(source: TensorSource, name: string, basePrefix: string | undefined): string {
  if (source.has(name)) return name;
  if (basePrefix && name.startsWith(`${basePrefix}.`)) {
    const stripped = name.slice(basePrefix.length + 1);
    if (source.has(stripped)) return stripped;
  }
  throw new LoftqError(
    `[loftq] the checkpoint has no tensor "${name}"${basePrefix ? ` (nor "${name.slice(basePrefix.length + 1)}")` : ''}`,
  );
}

function toTensor(data: ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(data instanceof Float32Array ? data : Float32Array.from(data), { shape });
}

/** Reads one weight as float32 (synchronously; bf16/f16 checkpoints are widened). */
export function readWeightSync(source: TensorSource, name: string, basePrefix?: string): Tensor {
  const { data, shape } = source.readSync(checkpointName(source, name, basePrefix));
  return toTensor(data as ArrayLike<number>, shape);
}

/** Reads one weight as float32 with a positioned read of its bytes only. */
export async function readWeight(source: TensorSource, name: string, basePrefix?: string): Promise<Tensor> {
  const { data, shape } = await source.read(checkpointName(source, name, basePrefix));
  return toTensor(data as ArrayLike<number>, shape);
}
