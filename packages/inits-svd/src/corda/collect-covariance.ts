import type { AnyModule, HookHandle } from '@lorakit/nn';
import { noGrad, type Tensor } from '@lorakit/tensor';
import { CordaError } from '../errors.js';

/** What the forward hooks gathered for one layer. */
export interface CovarianceSum {
  /** Σ XᵀX over forward calls ([in, in]; null when the layer never ran). */
  sum: Tensor | null;
  /** Forward calls seen. */
  sampleCount: number;
}

function isInvalid(t: Tensor): boolean {
  return Boolean(t.isnan().logicalOr(t.isinf()).any().item());
}

/**
 * Runs `runModel` with a forward hook on each target that adds the uncentered covariance of the
 * layer's input, as PEFT's `calib_cov_distribution` does: per call, X = input with a leading batch
 * dimension of 1 squeezed away ([tokens, in]), cast to float32 unless `useFloat16`, divided by
 * |max(X)| (the absolute value of the largest element, not the largest magnitude), then XᵀX is added
 * and the call counted. Hooks are removed afterwards, also when `runModel` throws.
 */
export async function collectCovarianceSums(
  targets: readonly (readonly [string, AnyModule])[],
  runModel: () => void | Promise<void>,
  options: { useFloat16: boolean },
): Promise<Map<string, CovarianceSum>> {
  const sums = new Map<string, CovarianceSum>();
  const handles: HookHandle[] = [];
  for (const [name, module] of targets) {
    const accumulator: CovarianceSum = { sum: null, sampleCount: 0 };
    sums.set(name, accumulator);
    handles.push(
      module.registerForwardHook((_module, args) => {
        noGrad(() => addCovariance(name, accumulator, args[0] as Tensor, options.useFloat16));
        return undefined;
      }),
    );
  }
  try {
    await runModel();
  } finally {
    for (const handle of handles) handle.remove();
  }
  return sums;
}

function addCovariance(name: string, accumulator: CovarianceSum, input: Tensor, useFloat16: boolean): void {
  let x = input.detach().squeeze(0);
  if (x.rank !== 2) {
    throw new CordaError(
      `[preprocessCorda] ${name} received an input of shape [${input.shape.join(', ')}]; CorDA collects one sequence per forward call, so run_model must feed batches of size 1 (inputs of shape [1, tokens, in_features])`,
    );
  }
  if (!useFloat16) x = x.float();
  x = x.div(x.max().abs());
  if (isInvalid(x)) {
    throw new CordaError(
      `[preprocessCorda] Invalid value found in input, please check your input data. (the input of ${name} has NaN/Inf values, or its largest element is 0)`,
    );
  }
  const covariance = x.T.matmul(x);
  if (isInvalid(covariance)) {
    throw new CordaError(
      `[preprocessCorda] Invalid value found in covariance of ${name}. Please file an issue at https://github.com/huggingface/peft/issues.`,
    );
  }
  accumulator.sampleCount += 1;
  accumulator.sum = accumulator.sum ? accumulator.sum.add(covariance) : covariance;
}
