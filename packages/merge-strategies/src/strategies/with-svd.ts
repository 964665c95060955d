import { MergeError, type MergeLayerContext, type MergeStrategy } from '@lorakit/lora';
import { cat, type Tensor, tidy } from '@lorakit/tensor';
import { factorMatrices, factorsFromMatrices } from './factor-matrices.js';
import { type MergeStrategyOptions, requireDensity } from './options.js';
import type { TaskMerge } from './task-merge.js';
import {
  clampFactors,
  type RankFactors,
  randomizedTruncatedSvd,
  truncatedSvd,
  truncatedSvdOfProduct,
} from './truncated-svd.js';

/** The SVD form's name: `svd` for `linear`, `<name>_svd` for the others (PEFT's names). */
export function svdName(merge: TaskMerge): string {
  return merge.name === 'linear' ? 'svd' : `${merge.name}_svd`;
}

/**
 * The SVD family as one combinator over a task merge (`svd` = withSvd(linear), `ties_svd` =
 * withSvd(ties), …), PEFT 0.21 semantics: combine the true deltas Dᵢ = sᵢ·BᵢAᵢ with the user's weights
 * wᵢ (`D = merge({Dᵢ}, w)`; PEFT ≤ 0.20 applied sᵢ twice), in LoRA's matrix layout (see
 * `factorMatrices`), then keep the best rank-k approximation with all singular values on B
 * (B = U_k·diag(S_k), A = Vᴴ_k), k = the merged rank, optionally clamped at the `svdClamp` quantile.
 * The merged scaling is 1, so ΔW_new ≈ the rank-k truncation of D.
 *
 * How the truncated SVD is computed:
 * - `linear` (`svd`): D = Σ wᵢsᵢBᵢAᵢ = [w₁s₁B₁ … ]·[A₁; …] has rank ≤ Σ rᵢ, so its SVD comes exactly
 *   from a QR of each stacked factor and the SVD of a small core (`truncatedSvdOfProduct`) — the same
 *   result as PEFT's full SVD of D, at O((m + n)(Σrᵢ)²) instead of O(mn·min(m, n)).
 * - pruning merges: pruning acts entry-wise on the full Dᵢ, so D is full rank and no factor shortcut is
 *   exact. `svdMethod: 'exact'` (default) takes the full SVD of D, as PEFT; `'randomized'` takes the
 *   randomized SVD of `torch.svd_lowrank` — an approximation, for large layers.
 *
 * `svdFullMatrices` and `svdDriver` are accepted and change nothing: the truncation discards the extra
 * columns of a full SVD, and the drivers are CUDA solvers.
 */
export function withSvd(merge: TaskMerge): MergeStrategy {
  const name = svdName(merge);
  return {
    name,
    rank: 'svd',
    combine(context) {
      const options = context.options as MergeStrategyOptions;
      if (merge.needsDensity) requireDensity(name, options);
      checkSvdOptions(name, options);
      return tidy(() => {
        const factors = truncate(merge, context, options);
        const clamped =
          options.svdClamp === undefined || options.svdClamp === null
            ? factors
            : clampFactors(factors, options.svdClamp);
        return factorsFromMatrices(context.sources[0]!, clamped.b, clamped.a);
      });
    },
  };
}

function truncate(merge: TaskMerge, context: MergeLayerContext, options: MergeStrategyOptions): RankFactors {
  const matrices = context.sources.map(factorMatrices);
  const rows = matrices[0]!.left.shape[0]!;
  const columns = matrices[0]!.right.shape[1]!;
  const inner = matrices.reduce((sum, m) => sum + m.left.shape[1]!, 0);
  if (merge.linear && inner < Math.min(rows, columns)) {
    // D = Σ wᵢ·(sᵢBᵢ)Aᵢ = L·R with L = [w₁s₁B₁, w₂s₂B₂, …] and R = [A₁; A₂; …].
    const left = cat(
      matrices.map((m, i) => m.left.mul(context.sources[i]!.weight * context.sources[i]!.scaling)),
      1,
    );
    const right = cat(
      matrices.map((m) => m.right),
      0,
    );
    return truncatedSvdOfProduct(left, right, context.rank);
  }
  const deltas: Tensor[] = matrices.map((m, i) => m.left.matmul(m.right).mul(context.sources[i]!.scaling));
  const combined = merge.merge(
    deltas,
    context.sources.map((s) => s.weight),
    options,
  );
  if (options.svdMethod === 'randomized') {
    return randomizedTruncatedSvd(combined, context.rank, {
      niter: options.svdNiter,
      oversample: options.svdOversample,
      generator: options.generator,
    });
  }
  return truncatedSvd(combined, context.rank);
}

function checkSvdOptions(name: string, options: MergeStrategyOptions): void {
  const method = options.svdMethod;
  if (method !== undefined && method !== 'exact' && method !== 'randomized') {
    throw new MergeError(
      `[${name}] unknown svdMethod ${JSON.stringify(method)}; valid methods: exact, randomized`,
    );
  }
  const rank = options.svdRank;
  if (rank !== undefined && rank !== null && !(Number.isInteger(rank) && rank > 0)) {
    throw new MergeError(`[${name}] svd_rank must be a positive integer, received ${String(rank)}`);
  }
  for (const [key, value, minimum] of [
    ['svdNiter', options.svdNiter, 0],
    ['svdOversample', options.svdOversample, 0],
  ] as const) {
    if (value !== undefined && !(Number.isInteger(value) && value >= minimum)) {
      throw new MergeError(`[${name}] ${key} must be a non-negative integer, received ${String(value)}`);
    }
  }
}
