import { AutogradError, fmtShape } from '../errors.js';
import { type RandomStarts, recordRandomStarts, replayRandom } from '../random/generator.js';
import { shapesEqual } from '../shape.js';
import { closeCollection, openCollection, trackInScope } from '../storage.js';
import { Tensor } from '../tensor.js';
import { backward } from './backward.js';
import { enableGrad, isGradEnabled, noGrad } from './grad-mode.js';
import type { GradContext } from './gradients.js';
import { capturingInputs, record, substitutingInputs } from './node.js';

/** What the checkpoint node keeps: the function, how many of its inputs were explicit, the RNG. */
interface CheckpointAttrs {
  readonly fn: (...inputs: Tensor[]) => unknown;
  readonly explicit: number;
  readonly random: RandomStarts;
  readonly shape: readonly number[];
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return typeof value;
}

function checkResult(result: unknown, when: string): Tensor {
  if (!(result instanceof Tensor)) {
    throw new AutogradError(
      `[checkpoint] fn must return one Tensor, ${when} it returned ${describeValue(result)}`,
    );
  }
  return result;
}

/**
 * Gradient checkpointing (activation recomputation; Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"): `checkpoint(fn, ...inputs)` returns `fn(...inputs)` but keeps none of the
 * tensors `fn` creates for backward — only its inputs. Backward runs `fn` again with recording on, from
 * the same random state (so dropout draws the same masks), and backpropagates through that.
 *
 * Gradients are those of the plain call: for the inputs and for every tensor requiring grad that `fn`
 * reaches by closure (parameters of the layer it runs), even when no input requires grad. Activation
 * memory for a stack of checkpointed layers drops from all layers' intermediates to the layer inputs plus
 * one layer's intermediates during its backward; the price is one more forward of `fn`.
 *
 * `fn` must return one tensor it created, compute the same thing when run again (no side effects such as
 * a KV-cache update), and keep nothing it creates: tensors it creates, other than its result and those
 * marked `keep()`, are disposed when it returns, as in {@link tidy}. Without grad recording (noGrad,
 * inference) `checkpoint` is a plain call.
 *
 * @example
 * ```ts
 * for (const layer of layers) hidden = checkpoint((h) => layer.call(h, context), hidden);
 * ```
 */
export function checkpoint<I extends Tensor[]>(fn: (...inputs: I) => Tensor, ...inputs: I): Tensor {
  if (typeof fn !== 'function') {
    throw new AutogradError(
      `[checkpoint] fn must be a function of the input tensors, received ${describeValue(fn)}`,
    );
  }
  inputs.forEach((input, i) => {
    if (!(input instanceof Tensor)) {
      throw new AutogradError(
        `[checkpoint] input ${i} must be a Tensor, received ${describeValue(input)}; pass other arguments through the closure`,
      );
    }
  });
  if (!isGradEnabled()) return checkResult(fn(...inputs), 'called without grad recording');

  const captured = new Set<Tensor>();
  const created = openCollection() as Set<Tensor>;
  let result: Tensor;
  let random: RandomStarts;
  try {
    const run = recordRandomStarts(() => capturingInputs(captured, () => noGrad(() => fn(...inputs))));
    result = checkResult(run.result, 'in the forward');
    random = run.starts;
  } finally {
    closeCollection(created);
  }
  if (!created.has(result)) {
    throw new AutogradError(
      '[checkpoint] fn returned a tensor it did not create (one of its inputs, or one from outside); return a new tensor, e.g. input.clone()',
    );
  }
  // Nothing recorded a graph inside fn, so nothing but its result can be needed later.
  for (const t of created) if (t !== result && !t.kept) t.dispose();
  trackInScope(result);

  const reached = [...captured].filter((t) => !created.has(t) && !inputs.includes(t as I[number]));
  const attrs: CheckpointAttrs = {
    fn: fn as CheckpointAttrs['fn'],
    explicit: inputs.length,
    random,
    shape: result.shape,
  };
  return record('checkpoint', [...inputs, ...reached], result, { ...attrs });
}

/**
 * Backward rule of `checkpoint`: re-runs `fn` on stand-ins of the node's inputs (the explicit ones and
 * those `fn` reached by closure) with the recorded random state, backpropagates `grad` through that
 * graph, and returns the stand-ins' gradients. The recomputed tensors are disposed before returning.
 */
export function checkpointBackward({ grad, inputs, attrs, needs }: GradContext): (Tensor | null)[] {
  const { fn, explicit, random, shape } = attrs as unknown as CheckpointAttrs;
  const created = openCollection() as Set<Tensor>;
  let grads: (Tensor | null)[];
  try {
    const standIns = inputs.map((input, i) => {
      const standIn = input.detach();
      standIn.requiresGrad = needs[i]!;
      return standIn;
    });
    const map = new Map(inputs.map((input, i) => [input, standIns[i]!]));
    grads = substitutingInputs(map, () => {
      const output = checkResult(
        replayRandom(random, () => enableGrad(() => fn(...standIns.slice(0, explicit)))),
        'when re-run for backward',
      );
      if (!shapesEqual(output.shape, shape)) {
        throw new AutogradError(
          `[checkpoint] fn returned shape ${fmtShape(output.shape)} when re-run for backward but ${fmtShape(shape)} in the forward; fn must compute the same thing every time`,
        );
      }
      if (output.requiresGrad) backward(output, grad);
      return standIns.map((standIn) => standIn.grad);
    });
  } finally {
    closeCollection(created);
  }
  for (const t of created) if (!t.kept) t.dispose();
  // The inner pass hands its leaf gradients over kept (the caller's); these are the outer pass's
  // temporaries instead, so they go back into its collection. A gradient the inner pass did not create
  // (the incoming one, passed through) is already accounted for.
  for (const g of grads) {
    if (g?.kept) {
      g.kept = false;
      trackInScope(g);
    }
  }
  return grads;
}
