import { noGrad, type Tensor, tensor } from '@lorakit/tensor';

export interface GradcheckOptions {
  readonly eps?: number;
  readonly atol?: number;
  readonly rtol?: number;
}

/**
 * Compares autograd gradients of `fn(...inputs)` with central finite differences, in float64. The
 * output is reduced with a fixed random-looking weighting so every output element matters. Returns the
 * worst absolute error; throws with the offending input and element when a check fails.
 */
export function gradcheck(
  fn: (...inputs: Tensor[]) => Tensor,
  inputs: Tensor[],
  options: GradcheckOptions = {},
): number {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-4;
  const leaves = inputs.map((x) =>
    x.dtype === 'float64' ? x.detach().clone().setRequiresGrad(x.requiresGrad) : x,
  );
  const probe = (out: Tensor) => {
    const weights = tensor(
      Array.from({ length: out.size }, (_, i) => Math.sin(i * 1.7 + 0.3) + 1.1),
      { dtype: out.dtype, backend: out.backend.name, shape: out.shape },
    );
    return out.mul(weights).sum();
  };
  for (const leaf of leaves) leaf.grad = null;
  const loss = probe(fn(...leaves));
  loss.backward();
  let worst = 0;
  leaves.forEach((leaf, which) => {
    if (!leaf.requiresGrad) return;
    const analytic = Array.from(
      leaf.grad ? (leaf.grad.toArray() as Float64Array) : new Float64Array(leaf.size),
    );
    const base = Array.from(leaf.toArray() as Float64Array);
    for (let i = 0; i < base.length; i++) {
      const evaluate = (value: number) =>
        noGrad(() => {
          const values = [...base];
          values[i] = value;
          const moved = tensor(Float64Array.from(values), { shape: leaf.shape, backend: leaf.backend.name });
          const args = leaves.map((x, k) => (k === which ? moved : x.detach()));
          return probe(fn(...args)).item();
        });
      const numeric = (evaluate(base[i]! + eps) - evaluate(base[i]! - eps)) / (2 * eps);
      const error = Math.abs(numeric - analytic[i]!);
      worst = Math.max(worst, error);
      if (error > atol + rtol * Math.abs(numeric)) {
        throw new Error(
          `gradcheck: input ${which} [${leaf.shape.join(', ')}] element ${i}: analytic ${analytic[i]} vs numeric ${numeric} (error ${error})`,
        );
      }
    }
  });
  return worst;
}
