import { type CrossEntropyOptions, crossEntropy, type Tensor } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';

/** How a loss reduces its per-element values. */
export type Reduction = 'mean' | 'sum' | 'none';

const REDUCTIONS: readonly Reduction[] = ['mean', 'sum', 'none'];

/** Throws unless `reduction` is one of mean, sum, none. */
export function checkReduction(layer: string, reduction: unknown): Reduction {
  if (!REDUCTIONS.includes(reduction as Reduction)) {
    throw new ModuleError(
      `[${layer}] reduction must be one of ${REDUCTIONS.join(', ')}, received ${JSON.stringify(reduction)}`,
    );
  }
  return reduction as Reduction;
}

/**
 * Cross-entropy between logits [N, C] (or [N, C, d₁, …]) and class indices [N] (or [N, d₁, …]), as
 * torch.nn.CrossEntropyLoss: targets equal to `ignoreIndex` (default -100) contribute nothing and are
 * not counted by the mean; `labelSmoothing` mixes the target with the uniform distribution.
 */
export class CrossEntropyLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;

  constructor(options: CrossEntropyOptions = {}) {
    super();
    this.ignoreIndex = options.ignoreIndex ?? -100;
    if (!Number.isInteger(this.ignoreIndex)) {
      throw new ModuleError(
        `[CrossEntropyLoss] ignoreIndex must be an integer, received ${this.ignoreIndex}`,
      );
    }
    this.reduction = checkReduction('CrossEntropyLoss', options.reduction ?? 'mean');
    this.labelSmoothing = options.labelSmoothing ?? 0;
    if (typeof this.labelSmoothing !== 'number' || !(this.labelSmoothing >= 0 && this.labelSmoothing < 1)) {
      throw new ModuleError(
        `[CrossEntropyLoss] labelSmoothing must be in [0, 1), received ${String(this.labelSmoothing)}`,
      );
    }
  }

  forward(logits: Tensor, target: Tensor): Tensor {
    return crossEntropy(logits, target, {
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}
