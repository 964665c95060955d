import { type InitStrategy, LoraConfigError } from '@lorakit/lora';
import { type Generator, noGrad, qr, randn, type Tensor } from '@lorakit/tensor';
import { initGenerator } from '../init-generator.js';
import { assignFactors } from '../layer-weight.js';

/**
 * Orthogonal init — "Rethinking LoRA initialisation" (Datta, 2025,
 * https://datta0.github.io/posts/rethink-lora-init/#orthogonal-initialisation), PEFT 0.21's
 * `"orthogonal"`. Both factors are non-zero but B·A = 0 exactly: with Q from the QR of an r×r Gaussian
 * matrix, A's columns lie in the span of Q's even-indexed rows (0, 2, 4, …) and B's rows in the span of
 * its odd-indexed rows, which are orthogonal to them.
 *
 *   A = (G_A · Q[0::2])ᵀ / 10,  G_A ~ N(0, 1)^{in × r/2}   → [r, in]
 *   B = G_Bᵀ · Q[1::2] / 10,    G_B ~ N(0, 1)^{r/2 × out}  → [out, r]
 *
 * The draws are taken in PEFT's order (the r×r matrix, G_A, G_B) from `options.generator`. The base
 * weight is untouched. Entries of A and B have standard deviation ≈ 1/√200 ≈ 0.0707.
 *
 * @param r the rank; must be even
 */
export function orthogonalInit(
  inFeatures: number,
  outFeatures: number,
  r: number,
  options: { generator?: Generator } = {},
): { a: Tensor; b: Tensor } {
  if (r % 2 !== 0) {
    throw new LoraConfigError(
      `[orthogonal] Orthogonal initialization requires the LoRA rank to be even, got ${r} instead.`,
    );
  }
  const generator = options.generator;
  return noGrad(() => {
    const { q } = qr(randn([r, r], { generator }));
    // Rows 2k and 2k+1 of Q as the two slices of a [r/2, 2, r] view.
    const pairs = q.reshape(r / 2, 2, r);
    const even = pairs.select(1, 0);
    const odd = pairs.select(1, 1);
    const a = randn([inFeatures, r / 2], { generator })
      .matmul(even)
      .T.div(10)
      .contiguous();
    const b = randn([r / 2, outFeatures], { generator })
      .T.matmul(odd)
      .div(10)
      .contiguous();
    return { a, b };
  });
}

/**
 * `init_lora_weights: 'orthogonal'` on linear layers (PEFT 0.21 has it for Linear only; embeddings fall
 * back to the default init and conv layers are rejected by @lorakit/lora, as in PEFT). Draws from
 * {@link initGenerator}. The factors stay float32 (PEFT rounds them to the base dtype and widens them
 * back to float32 later; on a half-precision base the two differ by that rounding).
 */
export const orthogonalStrategy: InitStrategy = {
  name: 'orthogonal',
  kinds: ['linear'],
  initialize(ctx) {
    // lora_A is [r, in] and lora_B [out, r] for every linear layer kind (Conv1D included).
    const { a, b } = orthogonalInit(ctx.loraA.shape[1]!, ctx.loraB.shape[0]!, ctx.r, {
      generator: initGenerator(),
    });
    assignFactors(ctx, 'orthogonal', a, b);
  },
};
