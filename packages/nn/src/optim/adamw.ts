import { type AdamWTensors, adamwStepMulti, type Tensor, zerosLike } from '@lorakit/tensor';
import { TrainingError } from '../errors.js';
import {
  type BaseGroupOptions,
  Optimizer,
  type ParamGroup,
  type ParamState,
  type ParamsInput,
  type ParamUpdate,
} from './optimizer.js';

/** AdamW hyperparameters (per group). */
export interface AdamWOptions extends BaseGroupOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment averages, each in [0, 1) (default [0.9, 0.999]). */
  betas: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
  /** Decoupled weight decay (default 0.01). */
  weightDecay: number;
  /** Use the maximum of past second moments (AMSGrad; default false). */
  amsgrad: boolean;
}

/**
 * AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019) with
 * torch.optim.AdamW's update rule, step t counted per parameter:
 *
 * ```
 * p ← p·(1 − lr·weightDecay)
 * m ← lerp(m, g, 1 − β₁)                 v ← β₂·v + (1 − β₂)·g²
 * v̂ ← amsgrad ? (vmax ← max(vmax, v)) : v
 * denom ← √v̂ / √(1 − β₂ᵗ) + eps
 * p ← p − lr/(1 − β₁ᵗ) · m / denom
 * ```
 *
 * The operations run in the parameter's dtype in PyTorch's order, so float32 results match PyTorch's
 * to rounding. The update is `adamwStep` of @lorakit/tensor: one fused pass per parameter on backends
 * that have the kernel (the JS backend, and the cpu backend through it), elementwise ops otherwise. State per parameter: `step`, `exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with AMSGrad.
 */
export class AdamW extends Optimizer<AdamWOptions> {
  protected readonly bufferNames = ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;
  protected readonly countsSteps = true;

  constructor(params: ParamsInput<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super(
      'AdamW',
      params,
      { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false, ...(options ?? {}) },
      ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad'],
    );
  }

  protected validateOptions(options: AdamWOptions, where: string): void {
    this.requireNonNegative('lr', options.lr, where);
    this.requireNonNegative('eps', options.eps, where);
    this.requireNonNegative('weightDecay', options.weightDecay, where);
    const betas = options.betas as unknown;
    if (!Array.isArray(betas) || betas.length !== 2) {
      throw new TrainingError(
        `[AdamW] betas must be a pair [beta1, beta2], received ${Array.isArray(betas) ? `${betas.length} values` : String(betas)}${where}`,
      );
    }
    betas.forEach((beta: unknown, i) => {
      if (typeof beta !== 'number' || !(beta >= 0 && beta < 1)) {
        throw new TrainingError(`[AdamW] betas[${i}] must be in [0, 1), received ${String(beta)}${where}`);
      }
    });
    if (typeof options.amsgrad !== 'boolean') {
      throw new TrainingError(
        `[AdamW] amsgrad must be a boolean, received ${String(options.amsgrad)}${where}`,
      );
    }
  }

  protected requiredBuffers(group: AdamWOptions): readonly string[] {
    return group.amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
  }

  protected update(param: Tensor, grad: Tensor, group: ParamGroup<AdamWOptions>, state: ParamState): void {
    this.updateGroup([{ param, grad, state }], group);
  }

  /**
   * The whole group in one `adamwStepMulti` per step count (usually one): a few launches for all the
   * parameters on backends with the multi-tensor kernel, the same values as one update each.
   */
  protected override updateGroup(items: readonly ParamUpdate[], group: ParamGroup<AdamWOptions>): void {
    const { lr, eps, weightDecay, amsgrad } = group;
    const [beta1, beta2] = group.betas;
    const bySteps = new Map<number, AdamWTensors<Tensor>[]>();
    for (const { param, grad, state } of items) {
      const buffer = (name: string): Tensor => {
        let b = state.buffers.get(name);
        if (!b) {
          b = zerosLike(param).keep();
          state.buffers.set(name, b);
        }
        return b;
      };
      const tensors = {
        param,
        grad,
        expAvg: buffer('exp_avg'),
        expAvgSq: buffer('exp_avg_sq'),
        maxExpAvgSq: amsgrad ? buffer('max_exp_avg_sq') : null,
      };
      state.step += 1;
      const batch = bySteps.get(state.step) ?? [];
      batch.push(tensors);
      bySteps.set(state.step, batch);
    }
    for (const [step, batch] of bySteps) adamwStepMulti(batch, { lr, beta1, beta2, eps, weightDecay, step });
  }
}
