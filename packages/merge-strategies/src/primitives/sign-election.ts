import { MergeError } from '@lorakit/lora';
import { stack, type Tensor, where } from '@lorakit/tensor';

/** How TIES elects the sign of each entry: by the sum of values, or by counting signs. */
export type MajoritySignMethod = 'total' | 'frequency';

export const MAJORITY_SIGN_METHODS: readonly MajoritySignMethod[] = ['total', 'frequency'];

/** Checks that `tensors` is a non-empty list of tensors of one shape (what every merge needs). */
export function checkTaskTensors(operation: string, tensors: readonly Tensor[]): void {
  if (tensors.length === 0) throw new MergeError(`[${operation}] needs at least one tensor`);
  const first = tensors[0]!.shape;
  const other = tensors.find(
    (t) => t.shape.length !== first.length || t.shape.some((d, i) => d !== first[i]),
  );
  if (other) {
    throw new MergeError(
      `[${operation}] all tensors need the same shape, received ${tensors.map((t) => `[${t.shape.join(', ')}]`).join(', ')}`,
    );
  }
}

export function checkMajoritySignMethod(
  operation: string,
  method: unknown,
): asserts method is MajoritySignMethod {
  if (!MAJORITY_SIGN_METHODS.includes(method as MajoritySignMethod)) {
    throw new MergeError(
      `[${operation}] unknown majority_sign_method ${JSON.stringify(method)}; valid methods: ${MAJORITY_SIGN_METHODS.join(', ')}`,
    );
  }
}

/**
 * TIES "elect" (Yadav et al., "TIES-Merging: Resolving Interference When Merging Models", NeurIPS 2023,
 * arXiv:2306.01708): per entry, the elected sign is + where m ≥ 0 and − elsewhere, with m = Σᵢ tᵢ
 * (`'total'`, the sum of values) or m = Σᵢ sign(tᵢ) (`'frequency'`); ties go to +. Returns a bool mask of
 * shape [n, …shape]: entry i agrees with the elected sign. Zeros (pruned entries) never agree.
 */
export function majoritySignMask(tensors: readonly Tensor[], method: MajoritySignMethod = 'total'): Tensor {
  checkTaskTensors('majoritySignMask', tensors);
  checkMajoritySignMethod('majoritySignMask', method);
  // Sums run as a chain of adds rather than a reduction over a stacked axis: same order, and the JS
  // backend reduces a leading axis ~25× slower than it adds.
  const magnitude = sumAll(method === 'total' ? tensors : tensors.map((t) => t.sign()));
  const elected = where(magnitude.ge(0), 1, -1);
  // sign(t) = elected ⇔ t·elected > 0 (false for 0 and NaN, as sign(t) == ±1 is).
  return stack(tensors.map((t) => t.mul(elected).gt(0)));
}

function sumAll(tensors: readonly Tensor[]): Tensor {
  return tensors.slice(1).reduce((sum, t) => sum.add(t), tensors[0]!);
}

/**
 * TIES "disjoint merge": per entry, the mean over the contributors whose sign agrees with the elected
 * one, Σᵢ tᵢ·maskᵢ / max(1, Σᵢ maskᵢ) (0 where none agrees). `mask` is `majoritySignMask`'s [n, …shape].
 */
export function disjointMerge(tensors: readonly Tensor[], mask: Tensor): Tensor {
  checkTaskTensors('disjointMerge', tensors);
  const expected = [tensors.length, ...tensors[0]!.shape];
  if (mask.shape.length !== expected.length || mask.shape.some((d, i) => d !== expected[i])) {
    throw new MergeError(
      `[disjointMerge] mask must have shape [${expected.join(', ')}] (one row per tensor), received [${mask.shape.join(', ')}]`,
    );
  }
  const agreeing = tensors.map((_, i) => mask.select(0, i).cast(tensors[0]!.dtype));
  const total = sumAll(tensors.map((t, i) => t.mul(agreeing[i]!)));
  return total.div(sumAll(agreeing).clamp(1));
}
