import type { Tensor } from '@lorakit/tensor';
import { TrainingError } from '../errors.js';
import {
  type BaseGroupOptions,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamsInput,
} from './optimizer.js';

/** SGD hyperparameters (per group). */
export interface SGDOptions extends BaseGroupOptions {
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening for momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

/**
 * Stochastic gradient descent with torch.optim.SGD's update rule:
 *
 * ```
 * g ← grad + weightDecay·p
 * b ← g on the first step, else momentum·b + (1 − dampening)·g
 * g ← nesterov ? g + momentum·b : b                      (when momentum ≠ 0)
 * p ← p − lr·g
 * ```
 *
 * The state of a parameter is its `momentum_buffer` (only when momentum ≠ 0).
 */
export class SGD extends Optimizer<SGDOptions> {
  protected readonly bufferNames = ['momentum_buffer'] as const;
  protected readonly countsSteps = false;

  constructor(
    params: ParamsInput<SGDOptions>,
    options: Pick<SGDOptions, 'lr'> & Partial<Omit<SGDOptions, 'lr'>>,
  ) {
    super(
      'SGD',
      params,
      { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...(options ?? {}) } as SGDOptions,
      ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov'],
    );
  }

  protected validateOptions(options: SGDOptions, where: string): void {
    this.requireNonNegative('lr', options.lr, where);
    this.requireNonNegative('momentum', options.momentum, where);
    this.requireNonNegative('dampening', options.dampening, where);
    this.requireNonNegative('weightDecay', options.weightDecay, where);
    if (typeof options.nesterov !== 'boolean') {
      throw new TrainingError(
        `[SGD] nesterov must be a boolean, received ${String(options.nesterov)}${where}`,
      );
    }
    if (options.nesterov && (options.momentum <= 0 || options.dampening !== 0)) {
      throw new TrainingError(
        `[SGD] nesterov needs momentum > 0 and dampening 0, received momentum ${options.momentum} and dampening ${options.dampening}${where}`,
      );
    }
  }

  protected requiredBuffers(group: SGDOptions): readonly string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<SGDOptions>, state: ParamState): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    state.step += 1;
    let direction = weightDecay !== 0 ? grad.add(param, weightDecay) : grad;
    if (momentum !== 0) {
      const buffer = state.buffers.get('momentum_buffer');
      if (!buffer) {
        // torch.clone(grad).detach(): the buffer must not alias the gradient it is later mixed with.
        state.buffers.set('momentum_buffer', direction.clone().keep());
      } else {
        buffer.assign(buffer.mul(momentum).add(direction, 1 - dampening));
      }
      const b = state.buffers.get('momentum_buffer')!;
      direction = nesterov ? direction.add(b, momentum) : b;
    }
    param.assign(param.add(direction, -lr));
  }
}
