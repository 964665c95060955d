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
 * Gradient checkpointing watches recording (see `checkpoint.ts`): a capture collects the tensors
 * requiring grad that ops consume, and a substitution records a recomputation against stand-ins of the
 * checkpoint's inputs, so that its graph ends there instead of running into the surrounding graph.
 * Substitutions apply outermost first (a nested checkpoint maps the stand-ins of the outer one).
 */
const captures: Set<Tensor>[] = [];
const substitutions: ReadonlyMap<Tensor, Tensor>[] = [];

/** @internal Runs `fn`, adding every tensor requiring grad that an op consumes to `into`. */
export function capturingInputs<T>(into: Set<Tensor>, fn: () => T): T {
  captures.push(into);
  try {
    return fn();
  } finally {
    captures.splice(captures.lastIndexOf(into), 1);
  }
}

/** @internal Runs `fn` recording `map.get(t)` in place of every input `t` the map holds. */
export function substitutingInputs<T>(map: ReadonlyMap<Tensor, Tensor>, fn: () => T): T {
  substitutions.push(map);
  try {
    return fn();
  } finally {
    substitutions.splice(substitutions.lastIndexOf(map), 1);
  }
}

function substituted(inputs: readonly Tensor[]): readonly Tensor[] {
  if (substitutions.length === 0) return inputs;
  return inputs.map((input) => {
    let t = input;
    for (const map of substitutions) t = map.get(t) ?? t;
    return t;
  });
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
  const actual = substituted(inputs);
  for (const capture of captures) for (const t of actual) if (t.requiresGrad) capture.add(t);
  if (isGradEnabled() && isFloating(output.dtype) && actual.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.gradNode = { op, inputs: actual, attrs, saved };
  }
  return output;
}
