import { MergeError } from '@lorakit/lora';
import type { Generator, Tensor } from '@lorakit/tensor';
import { checkDensity, prune } from './prune.js';
import {
  checkMajoritySignMethod,
  checkTaskTensors,
  disjointMerge,
  type MajoritySignMethod,
  majoritySignMask,
} from './sign-election.js';

function checkWeights(operation: string, tensors: readonly Tensor[], weights: readonly number[]): void {
  checkTaskTensors(operation, tensors);
  if (weights.length !== tensors.length) {
    throw new MergeError(
      `[${operation}] needs one weight per tensor: received ${tensors.length} tensors and ${weights.length} weights`,
    );
  }
  const bad = weights.findIndex((w) => typeof w !== 'number' || !Number.isFinite(w));
  if (bad >= 0) {
    throw new MergeError(
      `[${operation}] weights must be finite numbers, received ${String(weights[bad])} at index ${bad}`,
    );
  }
}

/** Σᵢ wᵢ·tᵢ, accumulated in order. */
function weightedSum(tensors: readonly Tensor[], weights: readonly number[]): Tensor {
  let sum = tensors[0]!.mul(weights[0]!);
  for (let i = 1; i < tensors.length; i++) sum = sum.add(tensors[i]!.mul(weights[i]!));
  return sum;
}

/**
 * Task arithmetic (Ilharco et al., "Editing Models with Task Arithmetic", ICLR 2023, arXiv:2212.04089):
 * Σᵢ wᵢ·tᵢ.
 */
export function taskArithmetic(tensors: readonly Tensor[], weights: readonly number[]): Tensor {
  checkWeights('taskArithmetic', tensors, weights);
  return weightedSum(tensors, weights);
}

/**
 * Magnitude-pruned task arithmetic (the "trim" step of Yadav et al. 2023, arXiv:2306.01708, without
 * sign election): Σᵢ wᵢ·prune(tᵢ, density, 'magnitude').
 */
export function magnitudePruneMerge(
  tensors: readonly Tensor[],
  weights: readonly number[],
  density: number,
): Tensor {
  checkWeights('magnitudePruneMerge', tensors, weights);
  checkDensity('magnitudePruneMerge', density);
  return weightedSum(
    tensors.map((t) => prune(t, density, 'magnitude')),
    weights,
  );
}

/**
 * TIES-Merging (Yadav et al., "TIES-Merging: Resolving Interference When Merging Models", NeurIPS 2023,
 * arXiv:2306.01708): trim each tᵢ to its top-`density` magnitudes, elect a sign per entry from the
 * **unweighted** trimmed tensors (`method`), then the disjoint mean of the weighted trimmed tensors that
 * agree with it. The election ignores the weights, so a negative weight flips a task after election.
 */
export function ties(
  tensors: readonly Tensor[],
  weights: readonly number[],
  density: number,
  method: MajoritySignMethod = 'total',
): Tensor {
  checkWeights('ties', tensors, weights);
  checkDensity('ties', density);
  checkMajoritySignMethod('ties', method);
  const trimmed = tensors.map((t) => prune(t, density, 'magnitude'));
  return electAndMerge(trimmed, weights, method);
}

/**
 * DARE with linear merging (Yu et al., "Language Models are Super Mario: Absorbing Abilities from
 * Homologous Models as a Free Lunch", ICML 2024, arXiv:2311.03099): drop each entry of tᵢ with
 * probability 1 − density, rescale the survivors by 1/density, then Σᵢ wᵢ·tᵢ. The masks come from
 * `generator` (the default generator when omitted), one tensor after the other.
 */
export function dareLinear(
  tensors: readonly Tensor[],
  weights: readonly number[],
  density: number,
  options: { generator?: Generator | undefined } = {},
): Tensor {
  checkWeights('dareLinear', tensors, weights);
  checkDensity('dareLinear', density);
  return weightedSum(
    tensors.map((t) => prune(t, density, 'random', true, options)),
    weights,
  );
}

/**
 * DARE followed by TIES's sign election and disjoint mean (Yu et al. 2024, arXiv:2311.03099, with
 * Yadav et al. 2023): random drop with 1/density rescaling instead of magnitude trimming.
 */
export function dareTies(
  tensors: readonly Tensor[],
  weights: readonly number[],
  density: number,
  method: MajoritySignMethod = 'total',
  options: { generator?: Generator | undefined } = {},
): Tensor {
  checkWeights('dareTies', tensors, weights);
  checkDensity('dareTies', density);
  checkMajoritySignMethod('dareTies', method);
  const dropped = tensors.map((t) => prune(t, density, 'random', true, options));
  return electAndMerge(dropped, weights, method);
}

function electAndMerge(
  pruned: readonly Tensor[],
  weights: readonly number[],
  method: MajoritySignMethod,
): Tensor {
  const mask = majoritySignMask(pruned, method);
  return disjointMerge(
    pruned.map((t, i) => t.mul(weights[i]!)),
    mask,
  );
}
