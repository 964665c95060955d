import { AutogradError, fmtShape } from '../errors.js';
import { onesLike } from '../ops/creation.js';
import { shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from './grad-mode.js';
import { GRADIENTS } from './gradients.js';

/**
 * Reverse-mode differentiation from `root`. Walks the recorded graph in reverse topological order,
 * calls each op's rule from the gradient table, and accumulates into `.grad` of leaves that require
 * grad. Rules are told which inputs need a gradient, so frozen weights cost nothing. The graph is freed
 * afterwards unless `retainGraph` is set.
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
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(root, grad ?? onesLike(root));
    for (let i = order.length - 1; i >= 0; i--) {
      const tensor = order[i]!;
      const node = tensor.gradNode!;
      const g = grads.get(tensor);
      grads.delete(tensor);
      if (!g) continue;
      const rule = GRADIENTS[node.op];
      if (!rule) throw new AutogradError(`[backward] op "${node.op}" has no gradient rule`);
      const needs = node.inputs.map((t) => t.requiresGrad);
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
          grads.set(input, previous ? previous.add(ig) : ig);
        } else {
          const cast = ig.dtype === input.dtype ? ig : ig.cast(input.dtype);
          input.grad = input.grad ? input.grad.add(cast) : cast;
        }
      });
      if (!options.retainGraph) {
        tensor.gradNode = null;
        freed.add(tensor);
      }
    }
  });
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
