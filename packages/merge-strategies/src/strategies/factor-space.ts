import type { MergeStrategy } from '@lorakit/lora';
import { tidy } from '@lorakit/tensor';
import { type MergeStrategyOptions, requireDensity } from './options.js';
import type { TaskMerge } from './task-merge.js';

/**
 * The non-SVD family of `add_weighted_adapter` (`linear`, `ties`, `dare_linear`, `dare_ties`,
 * `magnitude_prune`): the combination runs on the A matrices and on the B matrices separately, with
 * cᵢ = wᵢ·sᵢ folded as sign(cᵢ)·√|cᵢ| into A and √|cᵢ| into B (sign + when cᵢ ≥ 0), and the merged
 * adapter's scaling is 1. For `linear` this gives B·A = (Σ √|cᵢ| Bᵢ)(Σ sign(cᵢ)√|cᵢ| Aᵢ), which has
 * cross terms Bᵢ·Aⱼ — PEFT's behaviour (by design upstream; `cat` and `svd` are the exact types), kept
 * so that merges match PEFT. Pruning and sign election happen entry-wise in A-space and B-space; A's
 * random masks are drawn before B's.
 */
export function factorSpace(merge: TaskMerge): MergeStrategy {
  return {
    name: merge.name,
    rank: 'equal',
    combine(context) {
      const options = context.options as MergeStrategyOptions;
      if (merge.needsDensity) requireDensity(merge.name, options);
      return tidy(() => {
        const weightsA: number[] = [];
        const weightsB: number[] = [];
        for (const source of context.sources) {
          const c = source.weight * source.scaling;
          const root = Math.sqrt(Math.abs(c));
          weightsA.push(c >= 0 ? root : -root);
          weightsB.push(root);
        }
        const dtype = context.sources[0]!.a.dtype;
        const a = merge.merge(
          context.sources.map((s) => s.a),
          weightsA,
          options,
        );
        const b = merge.merge(
          context.sources.map((s) => s.b),
          weightsB,
          options,
        );
        return { a: a.cast(dtype), b: b.cast(dtype) };
      });
    },
  };
}
