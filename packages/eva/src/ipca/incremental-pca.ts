import { cat, noGrad, svd, type Tensor, tidy, zeros } from '@lorakit/tensor';
import { IncrementalPcaError } from '../errors.js';
import { lowrankFromSvdIsCheaper, svdLowrankSeeded, svdLowrankSeededFromSvd } from './svd-lowrank.js';

export interface IncrementalPcaOptions {
  /** Components to keep (default: min(rows, features) of the first batch). */
  readonly nComponents?: number | null;
  /** Randomized SVD (`torch.svd_lowrank`) instead of the full one. */
  readonly lowrank?: boolean;
  /** Sketch width of the randomized SVD (default 2 · nComponents). */
  readonly lowrankQ?: number | null;
  /** Subspace iterations of the randomized SVD (default 4). */
  readonly lowrankNiter?: number;
  /**
   * PyTorch seed set before every randomized SVD (default 42, what EVA uses). PEFT's class defaults to
   * no seed (the global generator); lorakit always seeds, so runs repeat.
   */
  readonly lowrankSeed?: number;
}

/**
 * Incremental PCA as PEFT implements it (`peft.utils.incremental_pca.IncrementalPCA`, a PyTorch port of
 * scikit-learn's `IncrementalPCA`; Ross et al. 2008, "Incremental Learning for Robust Visual Tracking").
 * Each {@link partialFit} merges a batch X [m, d] into the running estimate:
 *
 * - mean and population variance by Chan et al.'s pairwise update, column sums in float64, with the
 *   round-off correction (Σ(X − x̄))²/m subtracted from the batch's sum of squares;
 * - the SVD of `X − mean` on the first batch, afterwards of the stacked matrix
 *   [diag(S)·components; X − x̄_batch; √(n_old·m/n)·(mean_old − x̄_batch)] (float64, as PyTorch's type
 *   promotion makes it), so the old components carry the past data;
 * - `svd_flip` on V: every component's entry of largest magnitude is made positive;
 * - explained variance S²/(n − 1), and its ratio S² / Σ(var·n) against the total variance of the data.
 *
 * The first batch's centered data stay in the input dtype (float32 for EVA), as in PEFT.
 */
export class IncrementalPca {
  nComponents: number | null;
  readonly lowrank: boolean;
  readonly lowrankQ: number | null;
  readonly lowrankNiter: number;
  readonly lowrankSeed: number;

  nSamplesSeen = 0;
  nFeatures: number | null = null;
  /** Column means [d] (float64). */
  mean: Tensor | null = null;
  /** Population variances [d] (float64). */
  variance: Tensor | null = null;
  /** Principal axes [k, d], rows of unit norm. */
  components: Tensor | null = null;
  singularValues: Tensor | null = null;
  explainedVariance: Tensor | null = null;
  /** Fraction of the total variance of the data each component explains [k] (float64). */
  explainedVarianceRatio: Tensor | null = null;
  noiseVariance: number | null = null;

  constructor(options: IncrementalPcaOptions = {}) {
    this.nComponents = options.nComponents ?? null;
    this.lowrank = options.lowrank ?? false;
    this.lowrankNiter = options.lowrankNiter ?? 4;
    this.lowrankSeed = options.lowrankSeed ?? 42;
    let q = options.lowrankQ ?? null;
    if (this.lowrank) {
      if (q === null) {
        if (this.nComponents === null) {
          throw new IncrementalPcaError(
            '[IncrementalPca] n_components must be specified when using lowrank mode with lowrank_q=None.',
          );
        }
        q = this.nComponents * 2;
      } else if (this.nComponents !== null && q < this.nComponents) {
        throw new IncrementalPcaError(
          `[IncrementalPca] lowrank_q must be greater than or equal to n_components, received lowrank_q=${q} and n_components=${this.nComponents}.`,
        );
      }
    }
    this.lowrankQ = q;
  }

  /** Whether a batch has been fitted. */
  get fitted(): boolean {
    return this.components !== null;
  }

  /** Merges one batch [m, d] into the estimate (PEFT's `partial_fit`). */
  partialFit(input: Tensor): this {
    // The update's temporaries (several copies of the batch) are disposed at once, so a backend that
    // recycles memory reuses them for the next batch; the new state is kept.
    noGrad(() => tidy(() => this.#partialFit(input)));
    return this;
  }

  #partialFit(input: Tensor): void {
    if (input.rank !== 2) {
      throw new IncrementalPcaError(
        `[IncrementalPca] partialFit needs a 2-D tensor [samples, features], received shape [${input.shape.join(', ')}]`,
      );
    }
    const x = input.dtype === 'float32' || input.dtype === 'float64' ? input : input.float();
    const [m, d] = x.shape as [number, number];
    const k = this.nComponents;
    if (k !== null && k > d) {
      throw new IncrementalPcaError(
        `[IncrementalPca] n_components=${k} invalid for n_features=${d}, need more rows than columns for IncrementalPCA processing.`,
      );
    }
    if (k !== null && k > m) {
      throw new IncrementalPcaError(
        `[IncrementalPca] n_components=${k} must be less or equal to the batch number of samples ${m}`,
      );
    }
    const first = this.components === null;
    if (first) {
      this.nFeatures = d;
      if (!this.nComponents) this.nComponents = Math.min(m, d);
    } else if (d !== this.nFeatures) {
      throw new IncrementalPcaError(
        `[IncrementalPca] Number of features of the new batch does not match the number of features of the first batch. (first batch: ${this.nFeatures}, this batch: ${d})`,
      );
    }
    const nComponents = this.nComponents!;
    const { mean, variance, count } = this.#meanAndVariance(x);

    let data: Tensor;
    if (first) {
      data = x.double().sub(mean).cast(x.dtype);
    } else {
      const batchMean = x.mean(0);
      const factor = Math.sqrt((this.nSamplesSeen / count) * m);
      const meanCorrection = this.mean!.sub(batchMean.double()).mul(factor).unsqueeze(0);
      data = cat([this.singularValues!.unsqueeze(1).mul(this.components!), x.sub(batchMean), meanCorrection]);
    }

    let s: Tensor;
    let vt: Tensor;
    const [rows, columns] = data.shape as [number, number];
    if (
      this.lowrank &&
      data.dtype === 'float64' &&
      lowrankFromSvdIsCheaper(rows, columns, this.lowrankQ!, this.lowrankNiter, data.backend.name)
    ) {
      // The same randomized SVD through the backend's decompositions (float64 products run in JavaScript).
      const result = svdLowrankSeededFromSvd(
        data,
        this.lowrankQ!,
        this.lowrankNiter,
        this.lowrankSeed,
        nComponents,
      );
      s = result.s;
      vt = result.vh;
    } else if (this.lowrank) {
      const result = svdLowrankSeeded(data, this.lowrankQ!, this.lowrankNiter, this.lowrankSeed);
      s = result.s;
      vt = result.v.T;
    } else {
      const result = svd(data);
      s = result.s;
      vt = result.vh;
    }
    vt = svdFlipRows(vt);
    const squares = s.square().double();
    const explainedVariance = squares.div(count - 1);
    const totalVariance = variance.mul(count).sum().item();

    // State is kept: exempt from the tidy above and from any a caller wraps around partialFit (the
    // previous state is left to the garbage collector: callers may still hold it, as EVA's hook does).
    this.nSamplesSeen = count;
    this.components = vt.narrow(0, 0, nComponents).contiguous().keep();
    this.singularValues = s.narrow(0, 0, nComponents).contiguous().keep();
    this.mean = mean.keep();
    this.variance = variance.keep();
    this.explainedVariance = explainedVariance.narrow(0, 0, nComponents).contiguous().keep();
    this.explainedVarianceRatio = squares.div(totalVariance).narrow(0, 0, nComponents).contiguous().keep();
    const rest = explainedVariance.shape[0]! - nComponents;
    this.noiseVariance =
      nComponents === m || nComponents === d
        ? 0
        : rest > 0
          ? explainedVariance.narrow(0, nComponents, rest).mean().item()
          : Number.NaN;
  }

  /** Chan et al.'s update of the running mean and population variance (sums in float64). */
  #meanAndVariance(x: Tensor): { mean: Tensor; variance: Tensor; count: number } {
    const [m, d] = x.shape as [number, number];
    const seen = this.nSamplesSeen;
    const count = seen + m;
    const x64 = x.double();
    const lastSum = this.mean
      ? this.mean.mul(seen)
      : zeros([d], { dtype: 'float64', backend: x.backend.name });
    const newSum = x64.sum(0);
    const mean = lastSum.add(newSum).div(count);
    const centered = x64.sub(newSum.div(m));
    const correction = centered.sum(0).square();
    const newUnnormalized = centered.square().sum(0).sub(correction.div(m));
    if (this.variance === null) return { mean, variance: newUnnormalized.div(count), count };
    const lastOverNew = seen / m;
    const updated = this.variance
      .mul(seen)
      .add(newUnnormalized)
      .add(
        lastSum
          .div(lastOverNew)
          .sub(newSum)
          .square()
          .mul(lastOverNew / count),
      );
    return { mean, variance: updated.div(count), count };
  }
}

/**
 * scikit-learn's `svd_flip` with the decision on V: each row of `vt` is multiplied by the sign of its
 * entry of largest magnitude (the first one on ties), making that entry positive.
 */
export function svdFlipRows(vt: Tensor): Tensor {
  const index = vt.abs().argmax(1, true);
  return vt.mul(vt.gather(1, index).sign());
}
