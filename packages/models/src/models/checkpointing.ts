import type { AnyModule } from '@lorakit/nn';
import { checkpoint, isGradEnabled, type Tensor } from '@lorakit/tensor';
import { ModelError } from '../errors.js';

/**
 * A module that runs a stack of layers and can run each under `checkpoint` (transformers'
 * `gradient_checkpointing` attribute on its decoder and encoder modules). `gradientCheckpointing` is a
 * plain field, so `deepCopy` carries it; `PreTrainedModel.gradientCheckpointingEnable()` sets it.
 */
export interface LayerStack {
  gradientCheckpointing: boolean;
  readonly training: boolean;
}

export function isLayerStack(module: AnyModule): module is AnyModule & LayerStack {
  return typeof (module as Partial<LayerStack>).gradientCheckpointing === 'boolean';
}

/**
 * Runs one layer of `stack` on `hidden`: under `checkpoint` when gradient checkpointing is on, the stack
 * is training and gradients are recorded; a plain `layer.call` otherwise. `cache` is the KV cache the
 * layer would update: refused while checkpointing, since the re-run in backward would update it twice.
 */
export function callLayer<C>(
  stack: LayerStack,
  where: string,
  layer: AnyModule,
  hidden: Tensor,
  context: C,
  cache?: unknown,
): Tensor {
  if (!stack.gradientCheckpointing || !stack.training || !isGradEnabled())
    return layer.call(hidden, context) as Tensor;
  if (cache) {
    throw new ModelError(
      `[${where}] gradient checkpointing cannot train with a KV cache: each layer runs again in backward and would update the cache twice; pass no cache, or generate in eval() mode or under noGrad`,
    );
  }
  return checkpoint((h: Tensor) => layer.call(h, context) as Tensor, hidden);
}
