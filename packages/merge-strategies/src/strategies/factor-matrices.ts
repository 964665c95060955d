import type { LoraLayerKind, MergeSource } from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';

/**
 * A source's factors as matrices with ΔW = s·L·R in LoRA's own layout — the matrix PEFT's SVD merges
 * decompose after undoing the base layout: linear [out, in] (also with fan_in_fan_out, where only the
 * base weight is transposed), embedding [dim, vocab] (ΔW's transpose), conv [Cout, Cin·k…] (PEFT
 * flattens Conv2d; Conv1d/3d are flattened the same way here, where PEFT 0.21 fails, issue #3769).
 * L is lora_B as [rows, r], R is lora_A as [r, columns].
 */
export function factorMatrices(source: MergeSource): { left: Tensor; right: Tensor } {
  const r = source.a.shape[0]!;
  return {
    left: source.b.reshape([source.b.shape[0]!, r]),
    right: source.a.reshape([r, -1]),
  };
}

/** The inverse of `factorMatrices` for a merged rank k: lora_A and lora_B shaped like the sources'. */
export function factorsFromMatrices(
  like: MergeSource,
  left: Tensor,
  right: Tensor,
): { a: Tensor; b: Tensor } {
  const k = right.shape[0]!;
  return {
    a: right.reshape([k, ...like.a.shape.slice(1)]),
    b: left.reshape([like.b.shape[0]!, k, ...like.b.shape.slice(2)]),
  };
}

/**
 * s·ΔW in the base weight's layout from a layer's factors, as the LoRA layers compute it: linear
 * s·B·A (transposed with fan_in_fan_out), embedding s·(B·A)ᵀ, conv s·B·A reshaped to the kernel
 * [Cout, Cin, k…].
 */
export function baseLayoutDelta(
  kind: LoraLayerKind,
  a: Tensor,
  b: Tensor,
  scaling: number,
  fanInFanOut: boolean,
): Tensor {
  const r = a.shape[0]!;
  if (kind === 'embedding') return b.matmul(a).T.mul(scaling).contiguous();
  if (kind === 'conv') {
    return b
      .reshape([b.shape[0]!, r])
      .matmul(a.reshape([r, -1]))
      .reshape([b.shape[0]!, ...a.shape.slice(1)])
      .mul(scaling);
  }
  const delta = b.matmul(a).mul(scaling);
  return fanInFanOut ? delta.T.contiguous() : delta;
}
