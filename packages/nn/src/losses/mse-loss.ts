import { mseLoss, type Tensor } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';
import { checkReduction, type Reduction } from './cross-entropy-loss.js';

/** Mean squared error `(input − target)²`, reduced like torch.nn.MSELoss (default mean). */
export class MSELoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;

  constructor(options: { reduction?: Reduction } = {}) {
    super();
    this.reduction = checkReduction('MSELoss', options.reduction ?? 'mean');
  }

  forward(input: Tensor, target: Tensor): Tensor {
    const a = input.shape;
    const b = target.shape;
    if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
      // torch broadcasts with a warning; a silent broadcast here is almost always a bug.
      throw new ModuleError(
        `[MSELoss] input [${a.join(', ')}] and target [${b.join(', ')}] must have the same shape`,
      );
    }
    return mseLoss(input, target, this.reduction);
  }
}
