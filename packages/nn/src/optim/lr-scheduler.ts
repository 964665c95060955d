import { TrainingError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

/** A learning-rate multiplier as a function of the number of optimizer steps taken so far. */
export type LrLambda = (step: number) => number;

/** What a scheduler needs to resume: the steps taken and the base learning rates. */
export interface LrSchedulerState {
  readonly lastStep: number;
  readonly baseLrs: readonly number[];
}

/**
 * Sets each group's learning rate to `baseLr · lambda(step)` (torch's `LambdaLR`, which transformers'
 * schedules are built on). Construction applies step 0; call `step()` after each `optimizer.step()`.
 * The base learning rates are the groups' `lr` at construction.
 */
export class LrScheduler {
  readonly baseLrs: number[];
  private readonly _lambdas: readonly LrLambda[];
  private _lastStep = 0;

  constructor(
    readonly optimizer: Optimizer,
    lambda: LrLambda | readonly LrLambda[],
  ) {
    const groups = optimizer.paramGroups.length;
    const lambdas = typeof lambda === 'function' ? new Array<LrLambda>(groups).fill(lambda) : [...lambda];
    if (lambdas.length !== groups || lambdas.some((l) => typeof l !== 'function')) {
      throw new TrainingError(
        `[LrScheduler] needs one function or one per parameter group (${groups}), received ${Array.isArray(lambda) ? `${lambda.length} values` : String(lambda)}`,
      );
    }
    this._lambdas = lambdas;
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** Optimizer steps taken so far (torch's `last_epoch`). */
  get lastStep(): number {
    return this._lastStep;
  }

  /** Advances one step and sets the learning rates for the next optimizer step. */
  step(): void {
    this._lastStep += 1;
    this.apply();
  }

  /** The learning rates currently set, one per group. */
  getLastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  stateDict(): LrSchedulerState {
    return { lastStep: this._lastStep, baseLrs: [...this.baseLrs] };
  }

  /** Resumes at a saved step (sets the learning rates that step uses). */
  loadStateDict(state: LrSchedulerState): void {
    if (!Number.isInteger(state.lastStep) || state.lastStep < 0) {
      throw new TrainingError(
        `[LrScheduler] lastStep must be a non-negative integer, received ${String(state.lastStep)}`,
      );
    }
    if (state.baseLrs.length !== this.baseLrs.length) {
      throw new TrainingError(
        `[LrScheduler] the state has ${state.baseLrs.length} base learning rates, the optimizer has ${this.baseLrs.length} parameter groups`,
      );
    }
    this.baseLrs.splice(0, this.baseLrs.length, ...state.baseLrs);
    this._lastStep = state.lastStep;
    this.apply();
  }

  private apply(): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      group.lr = this.baseLrs[i]! * this._lambdas[i]!(this._lastStep);
    });
  }
}
