import type { InitContext } from '@lorakit/lora';
import type { Dtype, Tensor } from '@lorakit/tensor';
import { InitError } from './errors.js';

/** Base weight dtypes the residual inits accept (PEFT: torch.float32, float16, bfloat16). */
const RESIDUAL_DTYPES: readonly Dtype[] = ['float32', 'float16', 'bfloat16'];

/**
 * The storage dtype of the layer's base weight, or `'quantized'` when the base layer reads and writes
 * its weight through @lorakit/lora's `WeightAccess` (4-/8-bit layers from plugins): those dequantize on
 * read and requantize on write.
 */
export function baseWeightDtype(ctx: InitContext): Dtype | 'quantized' {
  const base = ctx.layer.baseLayer as unknown as { readBaseWeight?: unknown; writeBaseWeight?: unknown };
  if (typeof base.readBaseWeight === 'function' && typeof base.writeBaseWeight === 'function')
    return 'quantized';
  const weight = ctx.layer.baseLayer.param('weight');
  if (!weight) throw new InitError(`[${String(ctx.value)}] ${ctx.modulePath} has no weight parameter`);
  return weight.dtype;
}

/**
 * The base weight dtype, checked against fp32/fp16/bf16 (quantized layers included only when
 * `allowQuantized`); otherwise throws `message` (PEFT's TypeError text) naming the layer and dtype.
 */
export function checkedBaseDtype(
  ctx: InitContext,
  init: string,
  message: string,
  allowQuantized = false,
): Dtype | 'quantized' {
  const dtype = baseWeightDtype(ctx);
  if ((dtype === 'quantized' && allowQuantized) || RESIDUAL_DTYPES.includes(dtype as Dtype)) return dtype;
  throw new InitError(`[${init}] ${message} (${ctx.modulePath} has a ${dtype} base weight)`);
}

/** The base weight as float32 in nn.Linear layout [out, in] (GPT-2 Conv1D weights are transposed). */
export function linearLayoutWeight(ctx: InitContext): Tensor {
  const weight = ctx.baseWeight().float();
  return ctx.fanInFanOut ? weight.T.contiguous() : weight;
}

/**
 * Writes the residual `W_res` (float32, nn.Linear layout unless `storedLayout`) back as the base weight,
 * in the layer's own layout and dtype: rounded to fp16/bf16 for half-precision bases, handed to the
 * layer as float32 for quantized ones (which requantize it).
 */
export function writeResidual(
  ctx: InitContext,
  residual: Tensor,
  dtype: Dtype | 'quantized',
  storedLayout = false,
): void {
  const stored = ctx.fanInFanOut && !storedLayout ? residual.T.contiguous() : residual;
  ctx.setBaseWeight(dtype === 'quantized' || dtype === 'float32' ? stored : stored.cast(dtype));
}

/** Writes A and B into the adapter's factors after checking their shapes. */
export function assignFactors(ctx: InitContext, init: string, a: Tensor, b: Tensor): void {
  for (const [name, parameter, value] of [
    ['lora_A', ctx.loraA, a],
    ['lora_B', ctx.loraB, b],
  ] as const) {
    if (
      parameter.shape.length !== value.shape.length ||
      parameter.shape.some((d, i) => d !== value.shape[i])
    ) {
      throw new InitError(
        `[${init}] computed ${name} of shape [${value.shape.join(', ')}] for ${ctx.modulePath}, but the adapter's ${name} is [${parameter.shape.join(', ')}]`,
      );
    }
    parameter.assign(value);
  }
}

/** Rejects ranks above min(out, in): a thin SVD/QR of the weight has only that many components. */
export function checkRank(init: string, what: string, shape: readonly number[], r: number): void {
  const k = Math.min(shape[0]!, shape[1]!);
  if (r > k) {
    throw new InitError(
      `[${init}] r=${r} exceeds min(out_features, in_features)=${k} of ${what} [${shape.join(', ')}]; ${init} can take at most ${k} components`,
    );
  }
}
