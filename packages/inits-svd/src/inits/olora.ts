import type { InitStrategy } from '@lorakit/lora';
import { noGrad, qr, type Tensor } from '@lorakit/tensor';
import { InitError } from '../errors.js';
import { assignFactors, checkedBaseDtype, checkRank, writeResidual } from '../layer-weight.js';
import type { ResidualInit } from './residual-split.js';

/**
 * OLoRA — Büyükakyüz, "OLoRA: Orthonormal Low-Rank Adaptation of Large Language Models"
 * (arXiv:2406.01775). With the reduced Householder QR W = Q·R (LAPACK's sign convention: R's diagonal
 * may be negative), B = Q[:, :r] (orthonormal columns, BᵀB = I), A = R[:r, :] and W_res = W − s·B·A.
 * Unlike PiSSA the factors are not divided by the scaling s: the initial adapter contributes s·Qᵣ·Rᵣ
 * and the residual subtracts exactly that, so the output is preserved for any α.
 *
 * @param weight W [out, in], float32 (PEFT passes the stored weight without transposing it)
 */
export function oloraInit(weight: Tensor, r: number, scaling: number): ResidualInit {
  checkRank('oloraInit', 'the weight', weight.shape, r);
  return noGrad(() => {
    const { q, r: upper } = qr(weight);
    const b = q.narrow(1, 0, r).contiguous();
    const a = upper.narrow(0, 0, r).contiguous();
    return { a, b, residual: weight.sub(b.mul(scaling).matmul(a)) };
  });
}

/**
 * `init_lora_weights: 'olora'` (case-insensitive, as PEFT's `lower() == "olora"`). Accepts fp32, fp16
 * and bf16 bases and quantized ones (read dequantized, written back for the layer to requantize, as
 * PEFT does for bitsandbytes). Like PEFT 0.21 it factors the weight as stored, without the
 * fan_in_fan_out transpose: on a square GPT-2 Conv1D layer it reproduces PEFT's result (which does not
 * preserve the layer's output); on a non-square one PEFT builds factors of the wrong shape that fail at
 * the first forward, and this strategy refuses with an error instead.
 */
export const oloraStrategy: InitStrategy = {
  name: 'olora',
  kinds: ['linear'],
  modifiesBaseWeight: true,
  matches: (value) => typeof value === 'string' && value.toLowerCase() === 'olora',
  initialize(ctx) {
    const dtype = checkedBaseDtype(ctx, 'olora', 'Unsupported data type for the base layer.', true);
    noGrad(() => {
      const weight = ctx.baseWeight().float();
      const [rows, columns] = weight.shape as [number, number];
      if (ctx.fanInFanOut && rows !== columns) {
        throw new InitError(
          `[olora] OLoRA factors the weight as stored (PEFT 0.21 does not transpose fan_in_fan_out weights): on the Conv1D layer ${ctx.modulePath} with stored weight [${rows}, ${columns}] this gives lora_A [${ctx.r}, ${columns}] but the layer needs [${ctx.r}, ${rows}] (PEFT fails at the first forward); use 'pissa' for GPT-2 Conv1D layers`,
        );
      }
      checkRank('olora', ctx.modulePath, weight.shape, ctx.r);
      const { a, b, residual } = oloraInit(weight, ctx.r, ctx.scaling);
      assignFactors(ctx, 'olora', a, b);
      writeResidual(ctx, residual, dtype, true);
    });
  },
};
