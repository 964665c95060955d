import { eye, type Tensor } from '@lorakit/tensor';

/**
 * Minimum word error rate over each n-best list (the discriminative objective of RescoreBERT and LoRB):
 * with combined costs c [utterances, n] (first pass + BERT, lower is better), P = softmax(−c) over the
 * list, the loss is the expected number of word errors relative to the list's mean,
 * Σᵢ Pᵢ·(εᵢ − ε̄), averaged over utterances. Subtracting ε̄ leaves the gradient's direction unchanged
 * and centres it (a baseline).
 */
export function mwerLoss(costs: Tensor, errors: Tensor): Tensor {
  if (costs.rank !== 2 || costs.shape.join() !== errors.shape.join()) {
    throw new Error(
      `[mwerLoss] costs and errors must both be [utterances, hypotheses], received [${costs.shape.join(', ')}] and [${errors.shape.join(', ')}]`,
    );
  }
  const probabilities = costs.neg().softmax(-1);
  const relative = errors.sub(errors.mean(-1, true));
  return probabilities.mul(relative).sum(-1).mean();
}

/**
 * The correlation-based regularizer of LoRB: the rescorer's sentence representations h [rows, d] are
 * standardized per feature over the batch, their correlation matrix C = zᵀz / rows is pushed towards
 * the identity — mean((C − I)²) — so that low-rank updates do not collapse the features onto a few
 * correlated directions.
 */
export function correlationLoss(hidden: Tensor, eps = 1e-5): Tensor {
  if (hidden.rank !== 2 || hidden.shape[0]! < 2) {
    throw new Error(
      `[correlationLoss] hidden must be [rows ≥ 2, features], received [${hidden.shape.join(', ')}]`,
    );
  }
  const [rows, features] = hidden.shape as [number, number];
  const centred = hidden.sub(hidden.mean(0, true));
  const standardized = centred.div(centred.square().mean(0, true).add(eps).sqrt());
  const correlation = standardized.transpose(0, 1).matmul(standardized).div(rows);
  return correlation
    .sub(eye(features, features, { backend: hidden.backend.name }))
    .square()
    .mean();
}
