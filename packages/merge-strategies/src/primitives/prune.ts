import { MergeError } from '@lorakit/lora';
import { bernoulli, type Generator, type Tensor, tensor } from '@lorakit/tensor';
import { warnOnce } from '../warnings.js';
import { kthLargestMagnitudeMask } from './magnitude-select.js';

/** How `prune` chooses the entries it keeps. */
export type PruneMethod = 'magnitude' | 'random';

export const PRUNE_METHODS: readonly PruneMethod[] = ['magnitude', 'random'];

/** Options of the random (DARE) pruning. */
export interface RandomPruneOptions {
  /** Divide the kept entries by `density`, so the expected value of each entry is unchanged. */
  readonly rescale?: boolean;
  /** Source of the keep-masks; the default generator when omitted. Same seed ⇒ same masks. */
  readonly generator?: Generator | undefined;
}

/** Validates a density for pruning: a number (PEFT fails on `None` with a TypeError). */
export function checkDensity(operation: string, density: unknown): asserts density is number {
  if (typeof density !== 'number' || Number.isNaN(density)) {
    throw new MergeError(
      `[${operation}] density must be a number, the fraction of entries to keep in [0, 1]; received ${String(density)}`,
    );
  }
}

/**
 * Magnitude pruning as used by TIES-Merging (Yadav et al., "TIES-Merging: Resolving Interference When
 * Merging Models", NeurIPS 2023, arXiv:2306.01708), step "trim": keeps the k = ⌊density · numel⌋ entries
 * of largest |t| and zeroes the others (k = 0 ⇒ all zeros). Among entries tied at the k-th magnitude the
 * first ones in row-major order are kept (PyTorch's topk leaves this order unspecified). NaN counts as
 * the largest magnitude, as in topk. `density` is not range-checked here (PEFT's `prune` does that).
 */
export function magnitudePrune(t: Tensor, density: number): Tensor {
  checkDensity('magnitudePrune', density);
  const k = Math.min(t.size, Math.max(0, Math.floor(density * t.size)));
  const mask = kthLargestMagnitudeMask(t.contiguous().toArray(), k);
  return t.mul(tensor(mask, { shape: t.shape, dtype: 'bool', backend: t.backend.name }));
}

/**
 * Random pruning, the "drop" of DARE (Yu et al., "Language Models are Super Mario: Absorbing Abilities
 * from Homologous Models as a Free Lunch", ICML 2024, arXiv:2311.03099): each entry is kept with
 * probability `density` (an independent Bernoulli draw) and zeroed otherwise; with `rescale` the kept
 * entries are divided by `density` ("rescale"), so E[result] = t. `density = 0` with rescale gives NaN
 * (0/0), as PEFT.
 */
export function randomPrune(t: Tensor, density: number, options: RandomPruneOptions = {}): Tensor {
  checkDensity('randomPrune', density);
  if (!(density >= 0 && density <= 1)) {
    throw new MergeError(`[randomPrune] density must be in [0, 1] (a keep probability), received ${density}`);
  }
  const keep = bernoulli(t.shape, density, {
    generator: options.generator,
    dtype: t.dtype,
    backend: t.backend.name,
  });
  const pruned = t.mul(keep);
  return options.rescale ? pruned.div(density) : pruned;
}

/**
 * PEFT's `prune`: `density ≥ 1` warns and returns `t` unchanged, `density < 0` is an error, otherwise
 * magnitude pruning (TIES) or random pruning (DARE, rescaled when `rescale`).
 */
export function prune(
  t: Tensor,
  density: number,
  method: PruneMethod,
  rescale = false,
  options: { generator?: Generator | undefined } = {},
): Tensor {
  checkDensity('prune', density);
  if (density >= 1) {
    warnOnce(`The density ${density} is greater than or equal to 1, no pruning will be performed.`);
    return t;
  }
  if (density < 0) {
    throw new MergeError(`[prune] density must be >= 0, received ${density}`);
  }
  if (method === 'magnitude') return magnitudePrune(t, density);
  if (method === 'random') return randomPrune(t, density, { rescale, generator: options.generator });
  throw new MergeError(
    `[prune] unknown method ${JSON.stringify(method)}; valid methods: ${PRUNE_METHODS.join(', ')}`,
  );
}
