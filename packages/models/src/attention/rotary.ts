import { cat, rotary, rotateHalf, type Tensor } from '@lorakit/tensor';

/**
 * cos and sin of position × inverse frequency, [B, T, headDim]: the frequencies [headDim/2] are repeated
 * twice along the last dim (transformers' `cat(freqs, freqs)` layout, paired with `rotateHalf`).
 */
export function rotaryCosSin(inverseFrequencies: Tensor, positionIds: Tensor): { cos: Tensor; sin: Tensor } {
  const angles = positionIds.cast('float32').unsqueeze(-1).mul(inverseFrequencies);
  const both = cat([angles, angles], -1);
  return { cos: both.cos(), sin: both.sin() };
}

export { rotateHalf };

/**
 * Rotates x [B, H, T, D] by position: x·cos + rotateHalf(x)·sin, cos/sin [B, T, D] shared by all heads
 * (@lorakit/tensor's `rotary`: one recorded op with a direct backward).
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  return rotary(x, cos.unsqueeze(1), sin.unsqueeze(1));
}
