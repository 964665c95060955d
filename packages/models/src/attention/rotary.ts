import { cat, type Tensor } from '@lorakit/tensor';

/**
 * cos and sin of position × inverse frequency, [B, T, headDim]: the frequencies [headDim/2] are repeated
 * twice along the last dim (transformers' `cat(freqs, freqs)` layout, paired with `rotateHalf`).
 */
export function rotaryCosSin(inverseFrequencies: Tensor, positionIds: Tensor): { cos: Tensor; sin: Tensor } {
  const angles = positionIds.cast('float32').unsqueeze(-1).mul(inverseFrequencies);
  const both = cat([angles, angles], -1);
  return { cos: both.cos(), sin: both.sin() };
}

/** [x1, x2] → [−x2, x1] over the halves of the last dim. */
export function rotateHalf(x: Tensor): Tensor {
  const half = x.shape[x.rank - 1]! / 2;
  return cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
}

/** Rotates x [B, H, T, D] by position: x·cos + rotateHalf(x)·sin, cos/sin [B, T, D] shared by all heads. */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return x.mul(cos.unsqueeze(1)).add(rotateHalf(x).mul(sin.unsqueeze(1)));
}
