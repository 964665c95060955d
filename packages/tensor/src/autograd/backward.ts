import { AutogradError, fmtShape } from '../errors.js';
import { onesLike } from '../ops/creation.js';
import { shapesEqual } from '../shape.js';
import { closeCollection, openCollection } from '../storage.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from './grad-mode.js';
import { GRADIENTS } from './gradients.js';

/**
 * Reverse-mode differentiation from `root`. Walks the recorded graph in reverse topological order,
 * calls each op's rule from the gradient table, and accumulates into `.grad` of leaves that require
 * grad. Rules are told which inputs need a gradient, so frozen weights cost nothing. The graph is freed
 * afterwards unless `retainGraph` is set. Every tensor the pass creates, except the leaves' gradients, is
 * disposed as soon as the pass no longer needs it (see `Temporaries`), so backends can reuse its memory.
 */
/** Non-leaf tensors whose graph an earlier backward() freed. */
const freed = new WeakSet<Tensor>();

const FREED_MESSAGE =
  '[backward] the graph of this computation was freed by an earlier backward(); pass { retainGraph: true } to that call to backpropagate twice';

export function backward(root: Tensor, grad?: Tensor, options: { retainGraph?: boolean } = {}): void {
  if (freed.has(root)) throw new AutogradError(FREED_MESSAGE);
  if (!root.requiresGrad) {
    throw new AutogradError(
      '[backward] this tensor does not require grad: no input of the computation requires grad, or it ran under noGrad',
    );
  }
  if (grad === undefined) {
    if (root.size !== 1) {
      throw new AutogradError(
        `[backward] a gradient is needed for a non-scalar output of shape ${fmtShape(root.shape)}; pass one or reduce to a scalar first`,
      );
    }
  } else if (!shapesEqual(grad.shape, root.shape)) {
    throw new AutogradError(
      `[backward] gradient shape ${fmtShape(grad.shape)} differs from the output shape ${fmtShape(root.shape)}`,
    );
  }

  const order = topologicalOrder(root);
  const temporaries = new Temporaries();
  const grads = new Map<Tensor, Tensor>();
  const leaves = new Set<Tensor>();
  noGrad(() => {
    temporaries.run(() => {
      const seed = grad ?? onesLike(root);
      grads.set(root, seed);
      temporaries.hold(seed);
    });
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i]!;
      const node = tensor.gradNode!;
      const g = grads.get(tensor);
      grads.delete(tensor);
      if (!g) continue;
      const rule = GRADIENTS[node.op];
      if (!rule) throw new AutogradError(`[backward] op "${node.op}" has no gradient rule`);
      const needs = node.inputs.map((t) => t.requiresGrad);
      temporaries.run(() => {
        const inputGrads = rule({
          grad: g,
          inputs: node.inputs,
          output: tensor,
          attrs: node.attrs,
          saved: node.saved,
          needs,
        });
        node.inputs.forEach((input, k) => {
          const ig = inputGrads[k];
          if (!needs[k] || !ig) return;
          if (!shapesEqual(ig.shape, input.shape)) {
            throw new AutogradError(
              `[backward] rule for "${node.op}" returned a gradient of shape ${fmtShape(ig.shape)} for an input of shape ${fmtShape(input.shape)}`,
            );
          }
          if (input.gradNode) {
            const previous = grads.get(input);
            const sum = previous ? previous.add(ig) : ig;
            grads.set(input, sum);
            temporaries.hold(sum);
            if (previous) temporaries.release(previous);
          } else {
            const cast = ig.dtype === input.dtype ? ig : ig.cast(input.dtype);
            const previous = input.grad;
            input.grad = previous ? previous.add(cast) : cast;
            temporaries.hold(input.grad);
            leaves.add(input);
            if (previous) temporaries.release(previous);
          }
        });
        temporaries.release(g);
      });
      if (!options.retainGraph) {
        tensor.gradNode = null;
        freed.add(tensor);
      }
    }
  });
  // Leaf gradients are the caller's now, exempt from tidy like optimizer state.
  for (const leaf of leaves) temporaries.handOver(leaf.grad!);
}

/**
 * The tensors one backward pass creates, and which of them it still needs. The engine owns every
 * tensor a rule creates: a rule's intermediates die when it returns, and a gradient dies once the rule
 * that consumes it has run, once it is summed into another, or once a leaf's gradient it was is
 * replaced by a sum within the same pass. Disposing them at that moment, rather than leaving them to
 * the garbage collector, lets the backend reuse their memory for the next rule; on the cpu backend that
 * is most of a training step's allocations. A tensor is never disposed while a gradient slot or a leaf's
 * `.grad` holds it. Leaf gradients are kept (like optimizer state, they outlive any `tidy`). Tensors from
 * outside the pass (the given gradient, inputs, saved values, a leaf's gradient from an earlier pass) are
 * never touched; a result that views one of them only shares its storage, which stays alive while any
 * view of it does. No user code runs during the pass, so nothing else can hold the owned tensors.
 */
class Temporaries {
  /** Gradient slots and leaf gradients holding each tensor (one tensor can fill several). */
  readonly #holds = new Map<Tensor, number>();
  /** Tensors this pass created that are still held. */
  readonly #owned = new Set<Tensor>();

  /** Runs one step of the pass; tensors it creates and nothing holds afterwards are disposed. */
  run(step: () => void): void {
    const created = openCollection() as Set<Tensor>;
    try {
      step();
    } finally {
      closeCollection(created);
    }
    for (const t of created) {
      if (this.#holds.has(t)) this.#owned.add(t);
      // A tensor an op kept (a cache it filled) is not a temporary.
      else if (!t.kept) t.dispose();
    }
  }

  /** A leaf's gradient at the end of the pass: the caller's from now on, kept out of any tidy. */
  handOver(t: Tensor): void {
    if (this.#owned.has(t)) t.keep();
  }

  hold(t: Tensor): void {
    this.#holds.set(t, (this.#holds.get(t) ?? 0) + 1);
  }

  release(t: Tensor): void {
    const left = (this.#holds.get(t) ?? 0) - 1;
    if (left > 0) {
      this.#holds.set(t, left);
      return;
    }
    this.#holds.delete(t);
    if (this.#owned.delete(t)) t.dispose();
  }
}

/** Non-leaf tensors reachable from root, each after all the tensors it depends on. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  if (!root.gradNode) return order;
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [tensor, next] = top;
    const inputs = tensor.gradNode!.inputs;
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next]!;
      if (freed.has(input)) throw new AutogradError(FREED_MESSAGE);
      if (input.gradNode && input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push([input, 0]);
      }
    } else {
      stack.pop();
      order.push(tensor);
    }
  }
  return order;
}
