import { isFloating } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { isGradEnabled } from './grad-mode.js';

/** What an op leaves on its output for backward: its name, inputs, attributes and saved values. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly attrs: Readonly<Record<string, unknown>>;
  readonly saved: readonly Tensor[];
}

/**
 * Connects `output` to the graph when gradients are enabled and some input requires grad. Ops call this
 * once, after computing their output with kernels. The backward rule for `op` lives in
 * `autograd/gradients.ts`.
 */
export function record(
  op: string,
  inputs: readonly Tensor[],
  output: Tensor,
  attrs: Readonly<Record<string, unknown>> = {},
  saved: readonly Tensor[] = [],
): Tensor {
  if (isGradEnabled() && isFloating(output.dtype) && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.gradNode = { op, inputs, attrs, saved };
  }
  return output;
}
