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
 * (@lorakit/tensor's `rotary`: one recorded op with a direct backward). The tables are computed in
 * float32 and rounded to x's dtype first, as transformers' rotary embeddings return `cos.to(x.dtype)`:
 * a bfloat16 model rotates in bfloat16.
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [c, s] = cos.dtype === x.dtype ? [cos, sin] : [cos.cast(x.dtype), sin.cast(x.dtype)];
  return rotary(x, c.unsqueeze(1), s.unsqueeze(1));
}
