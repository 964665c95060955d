import { MergeError, type WeightedMergeOptions } from '@lorakit/lora';

/** How the SVD family computes the truncated SVD of a combined delta that is not low-rank. */
export type SvdMethod = 'exact' | 'randomized';

/**
 * `addWeightedAdapter`'s options as this package reads them: PEFT's keyword arguments plus the choice of
 * SVD algorithm for full-rank deltas (those of `ties_svd`, `dare_*_svd`, `magnitude_prune_svd`).
 */
export interface MergeStrategyOptions extends WeightedMergeOptions {
  /**
   * `'exact'` (default): a full SVD of the pruned delta, as PEFT. `'randomized'`: the randomized
   * range finder of `torch.svd_lowrank` (Halko et al. 2011) with `svdOversample` extra columns and
   * `svdNiter` power iterations — an approximation, much faster on large layers. The `svd` type
   * ignores it: its delta is a sum of low-rank terms, whose exact truncated SVD is cheap.
   */
  readonly svdMethod?: SvdMethod;
  /** Power iterations of the randomized SVD (default 4). */
  readonly svdNiter?: number;
  /** Extra sketch columns of the randomized SVD (default 10). */
  readonly svdOversample?: number;
}

/** `density` for the pruning types: PEFT fails on `None` with a TypeError; we name what is missing. */
export function requireDensity(type: string, options: WeightedMergeOptions): number {
  const density = options.density;
  if (typeof density !== 'number' || Number.isNaN(density)) {
    throw new MergeError(
      `[${type}] combination_type ${type} needs density, the fraction of entries to keep in [0, 1]; received ${String(density)}`,
    );
  }
  return density;
}
