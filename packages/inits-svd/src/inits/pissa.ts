import type { InitStrategy } from '@lorakit/lora';
import { noGrad, svd, type Tensor } from '@lorakit/tensor';
import {
  assignFactors,
  checkedBaseDtype,
  checkRank,
  linearLayoutWeight,
  writeResidual,
} from '../layer-weight.js';
import { type ResidualInit, splitSingularTriplets } from './residual-split.js';

/** PEFT's TypeError for base weights PiSSA cannot factor (quantized, float64, integer). */
export const PISSA_DTYPE_MESSAGE =
  'Please initialize PiSSA under float32, float16, or bfloat16. Subsequently, re-quantize the residual model to help minimize quantization errors.';

/**
 * PiSSA — Meng, Wang & Zhang, "PiSSA: Principal Singular Values and Singular Vectors Adaptation of Large
 * Language Models" (NeurIPS 2024, arXiv:2404.02948). The adapter starts as the rank-r principal part of
 * W and the frozen base keeps the rest: with the thin SVD W = U·diag(S)·Vh,
 * A = diag(√(Sᵣ/s))·Vhᵣ, B = Uᵣ·diag(√(Sᵣ/s)), W_res = W − s·B·A.
 *
 * Cost: a full thin SVD, O(out·in·min(out, in)) — seconds at 1024², minutes at 4096² on the JavaScript
 * backend. `pissaNiterInit` (randomized, matmul-dominated) is the fast alternative.
 *
 * @param weight W in nn.Linear layout [out, in], float32 or float64
 * @param r rank, at most min(out, in)
 * @param scaling the adapter's scaling s; PiSSA divides the singular values by it so that s·B·A is
 *   the principal part whatever α is
 */
export function pissaInit(weight: Tensor, r: number, scaling: number): ResidualInit {
  checkRank('pissaInit', 'the weight', weight.shape, r);
  return noGrad(() => {
    const { u, s, vh } = svd(weight);
    return splitSingularTriplets(weight, u.narrow(1, 0, r), s.narrow(0, 0, r), vh.narrow(0, 0, r), scaling);
  });
}

/**
 * `init_lora_weights: 'pissa'` on linear layers (nn.Linear, GPT-2 Conv1D — transposed to [out, in] and
 * back). Computes in float32; the residual is written back in the base dtype (fp32/fp16/bf16; other
 * dtypes are rejected as PEFT does). Embeddings fall back to the default init and conv layers are
 * rejected by @lorakit/lora, as in PEFT.
 */
export const pissaStrategy: InitStrategy = {
  name: 'pissa',
  kinds: ['linear'],
  modifiesBaseWeight: true,
  matches: (value) => value === 'pissa',
  initialize(ctx) {
    const dtype = checkedBaseDtype(ctx, 'pissa', PISSA_DTYPE_MESSAGE);
    noGrad(() => {
      const weight = linearLayoutWeight(ctx);
      checkRank('pissa', ctx.modulePath, weight.shape, ctx.r);
      const { a, b, residual } = pissaInit(weight, ctx.r, ctx.scaling);
      assignFactors(ctx, 'pissa', a, b);
      writeResidual(ctx, residual, dtype);
    });
  },
};
