import { Conv1D, Embedding, LayerNorm, Linear, RMSNorm } from '@lorakit/nn';
import { type Generator, randn } from '@lorakit/tensor';
import type { PreTrainedModel } from './pretrained-model.js';

export interface InitializeOptions {
  /** Standard deviation of weights (default: the config's `initializer_range`). */
  readonly std?: number;
  readonly generator?: Generator;
}

/**
 * transformers' basic initialization: Linear, Conv1D and Embedding weights ~ N(0, initializer_range),
 * biases 0, the embedding's padding row 0, norm weights 1 and biases 0. (transformers' per-model refinements,
 * such as GPT-2's scaled residual projections, are not reproduced.) Only these module kinds are touched;
 * weights are written in place, so ties survive.
 */
export function initializeWeights(model: PreTrainedModel, options: InitializeOptions = {}): void {
  const std = options.std ?? model.config.initializerRange;
  const normal = (shape: readonly number[]) => randn(shape, { std, generator: options.generator });
  for (const [, module] of model.namedModules()) {
    if (module instanceof Linear || module instanceof Conv1D) {
      module.weight.assign(normal(module.weight.shape));
      module.bias?.zero();
    } else if (module instanceof Embedding) {
      module.weight.assign(normal(module.weight.shape));
      if (module.paddingIdx !== undefined) module.weight.select(0, module.paddingIdx).detach().zero();
    } else if (module instanceof LayerNorm || module instanceof RMSNorm) {
      module.param('weight')?.assign(1);
      if (module instanceof LayerNorm) module.param('bias')?.zero();
    }
  }
}
