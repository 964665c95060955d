import type { Tensor } from '@lorakit/tensor';
import {
  dareLinear,
  dareTies,
  magnitudePruneMerge,
  taskArithmetic,
  ties,
} from '../primitives/task-merges.js';
import type { MergeStrategyOptions } from './options.js';

/**
 * One of merge_utils' combinations of same-shaped task tensors, named after the non-SVD combination type
 * that uses it. `linear` says the combination is Σ wᵢtᵢ — a linear map of its inputs — so it commutes
 * with factorizations: combining low-rank deltas gives a low-rank delta (what `withSvd` exploits).
 * `options.density` is passed through unchecked: the primitives reject a missing one, and the
 * strategies check it first to name the combination type in the message.
 */
export interface TaskMerge {
  readonly name: string;
  readonly linear: boolean;
  /** Whether `options.density` is required (the strategies check it and name the combination type). */
  readonly needsDensity: boolean;
  merge(tensors: readonly Tensor[], weights: readonly number[], options: MergeStrategyOptions): Tensor;
}

export const LINEAR: TaskMerge = {
  name: 'linear',
  linear: true,
  needsDensity: false,
  merge: (tensors, weights) => taskArithmetic(tensors, weights),
};

export const TIES: TaskMerge = {
  name: 'ties',
  linear: false,
  needsDensity: true,
  merge: (tensors, weights, options) =>
    ties(tensors, weights, options.density as number, options.majoritySignMethod ?? 'total'),
};

export const DARE_LINEAR: TaskMerge = {
  name: 'dare_linear',
  linear: false,
  needsDensity: true,
  merge: (tensors, weights, options) =>
    dareLinear(tensors, weights, options.density as number, { generator: options.generator }),
};

export const DARE_TIES: TaskMerge = {
  name: 'dare_ties',
  linear: false,
  needsDensity: true,
  merge: (tensors, weights, options) =>
    dareTies(tensors, weights, options.density as number, options.majoritySignMethod ?? 'total', {
      generator: options.generator,
    }),
};

export const MAGNITUDE_PRUNE: TaskMerge = {
  name: 'magnitude_prune',
  linear: false,
  needsDensity: true,
  merge: (tensors, weights, options) => magnitudePruneMerge(tensors, weights, options.density as number),
};

/** The five combinations PEFT's `add_weighted_adapter` uses, each also available in SVD form. */
export const TASK_MERGES: readonly TaskMerge[] = [LINEAR, TIES, DARE_LINEAR, DARE_TIES, MAGNITUDE_PRUNE];
