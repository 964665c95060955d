import type { MergeStrategy } from '@lorakit/lora';
import { cat, tidy } from '@lorakit/tensor';

/**
 * `cat`: A = [w₁s₁A₁; w₂s₂A₂; …] (rows), B = [B₁, B₂, …] (columns), so B·A = Σ wᵢsᵢBᵢAᵢ = Σ wᵢΔWᵢ
 * exactly, at rank Σ rᵢ, with the merged scaling 1. Works for every layer kind (A's rank is its first
 * dimension and B's its second, for linear, embedding and conv factors alike).
 */
export const CAT: MergeStrategy = {
  name: 'cat',
  rank: 'sum',
  combine(context) {
    return tidy(() => ({
      // (A·w)·s, in PEFT's order, so the float32 roundings match.
      a: cat(
        context.sources.map((s) => s.a.mul(s.weight).mul(s.scaling)),
        0,
      ),
      b: cat(
        context.sources.map((s) => s.b),
        1,
      ),
    }));
  },
};
