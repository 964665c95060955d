import { fullLike, noGrad, stack, type Tensor } from '@lorakit/tensor';
import { TrainingError } from '../errors.js';

/**
 * Rescales gradients so that their joint norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_):
 *
 * ```
 * total = ‖(‖g₁‖, ‖g₂‖, …)‖            (the norm of all gradients as one vector)
 * coef  = min(1, maxNorm / (total + 1e-6))
 * gᵢ   ← coef · gᵢ
 * ```
 *
 * Parameters without a gradient are skipped. Each gradient is replaced by a scaled tensor rather than
 * written in place, because autograd may hand one gradient tensor to several leaves and an in-place
 * write would scale it twice. Returns the total norm before clipping (float32, like PyTorch's); 0 when
 * no parameter has a gradient. Norms of float16/bfloat16 gradients are computed in float32, and in
 * float64 when any gradient is float64.
 *
 * @param normType - the p of the p-norm: a positive number or `Infinity` (max |g|); default 2
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  return clipGradNormOnDevice(params, maxNorm, normType)?.item() ?? 0;
}

/**
 * {@link clipGradNorm} without the host read: returns the total norm as a 0-d tensor (null when no
 * parameter has a gradient), so a training step need not wait for the device.
 */
export function clipGradNormOnDevice(params: Iterable<Tensor>, maxNorm: number, normType = 2): Tensor | null {
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) {
    throw new TrainingError(`[clipGradNorm] maxNorm must be a non-negative number, received ${maxNorm}`);
  }
  if (typeof normType !== 'number' || !(normType > 0)) {
    throw new TrainingError(
      `[clipGradNorm] normType must be a positive number or Infinity, received ${String(normType)}`,
    );
  }
  const withGrad = [...params].filter((p) => p.grad !== null);
  if (withGrad.length === 0) return null;
  return noGrad(() => {
    const dtype = withGrad.some((p) => p.grad!.dtype === 'float64') ? 'float64' : 'float32';
    const norms = withGrad.map((p) => p.grad!.cast(dtype).norm(normType));
    const total = stack(norms).norm(normType);
    const coef = fullLike(total, maxNorm).div(total.add(1e-6)).clamp(undefined, 1);
    for (const p of withGrad) {
      const g = p.grad!;
      p.grad = g.mul(coef.cast(g.dtype));
    }
    return total;
  });
}
