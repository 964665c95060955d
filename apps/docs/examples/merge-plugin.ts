import { type MergeLayerContext, registerMergeStrategy } from '@lorakit/lora';
import { cat } from '@lorakit/tensor';

/**
 * A merge plugin: `'mean_cat'` averages the adapters' updates exactly, B·A = (1/n)·Σ wᵢ·ΔWᵢ, by stacking the
 * factors like `cat` (so the merged rank is the sum of the ranks: `rank: 'sum'`).
 */
export function registerMeanCat(): void {
  registerMergeStrategy({
    name: 'mean_cat',
    rank: 'sum',
    combine({ sources }: MergeLayerContext) {
      const n = sources.length;
      // ΔWᵢ = sᵢ·Bᵢ·Aᵢ; the merged adapter's scaling is 1, so sᵢ·wᵢ/n goes into A.
      const a = cat(
        sources.map((source) => source.a.mul((source.scaling * source.weight) / n)),
        0,
      );
      const b = cat(
        sources.map((source) => source.b),
        1,
      );
      return { a, b };
    },
  });
}
