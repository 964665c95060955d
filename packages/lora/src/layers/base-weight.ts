import type { AnyModule } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { MergeError } from '../errors.js';

/**
 * How a LoRA layer reads and writes its base weight. Plain layers expose a `weight` parameter; quantized
 * layers (from plugins such as @lorakit/loftq) implement this interface to dequantize on read and
 * requantize on write.
 */
export interface WeightAccess {
  /** The base weight as float32, in the module's own layout. */
  readBaseWeight(): Tensor;
  /** Replaces the base weight (merging, residual inits). */
  writeBaseWeight(weight: Tensor): void;
}

/** Whether a base module implements WeightAccess (quantized layers from plugins). */
export function hasWeightAccess(module: unknown): module is WeightAccess {
  return (
    typeof (module as WeightAccess).readBaseWeight === 'function' &&
    typeof (module as WeightAccess).writeBaseWeight === 'function'
  );
}

export function readBaseWeight(module: AnyModule): Tensor {
  if (hasWeightAccess(module)) return module.readBaseWeight();
  const weight = module.param('weight');
  if (!weight) throw new MergeError(`[lora] ${module.constructor.name} has no weight`);
  return weight.dtype === 'float32' || weight.dtype === 'float64' ? weight : weight.float();
}

export function writeBaseWeight(module: AnyModule, weight: Tensor): void {
  if (hasWeightAccess(module)) {
    module.writeBaseWeight(weight);
    return;
  }
  module.param('weight')!.assign(weight);
}
