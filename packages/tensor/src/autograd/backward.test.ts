import { describe, expect, it } from 'vitest';
import { getBackend, noGrad, ones, type Tensor, tensor, tidy } from '../index.js';
import type { createOpaqueBackend } from '../testing/opaque-backend.js';

// The opaque backend (registered by the test setup) counts live storages: every kernel output is one,
// and dispose() is the only way one goes away. So `live()` after backward() shows exactly which of the
// tensors the pass created survived it.
const opaque = getBackend('opaque') as ReturnType<typeof createOpaqueBackend>;
const on = { backend: 'opaque', requiresGrad: true } as const;

/** Storages alive after `fn` that were not alive before it. */
function survivors(fn: () => void): number {
  const before = opaque.live();
  fn();
  return opaque.live() - before;
}

describe('backward disposes its temporaries', () => {
  it('leaves only the leaf gradients behind, with the same values as without disposal', () => {
    const x = tensor([0.5, -1, 2], on);
    const w = tensor([1.5, 0.25, -3], on);
    const loss = x.mul(w).sin().mul(2).add(x.exp()).sum();
    // Two leaves get a gradient: two storages survive; every intermediate gradient and every rule's
    // scratch tensor is gone.
    expect(survivors(() => loss.backward())).toBe(2);
    const xs = [0.5, -1, 2];
    const ws = [1.5, 0.25, -3];
    const gx = xs.map((v, i) => 2 * Math.cos(v * ws[i]!) * ws[i]! + Math.exp(v));
    const gw = xs.map((v, i) => 2 * Math.cos(v * ws[i]!) * v);
    for (const [i, g] of (x.grad!.toArray() as Float32Array).entries()) expect(g).toBeCloseTo(gx[i]!, 5);
    for (const [i, g] of (w.grad!.toArray() as Float32Array).entries()) expect(g).toBeCloseTo(gw[i]!, 5);
    expect(x.grad!.disposed).toBe(false);
  });

  it('keeps a gradient that several inputs share (add passes its gradient through to both sides)', () => {
    const x = tensor([1, 2], on);
    const y = x.mul(3);
    // add's rule returns the incoming gradient itself for both inputs; y's branch must not dispose
    // the tensor that became x.grad.
    y.add(x).add(y).sum().backward();
    expect(x.grad!.toList()).toEqual([7, 7]);
    const z = tensor([1, 2], on);
    z.add(z).sum().backward();
    expect(z.grad!.toList()).toEqual([2, 2]);
  });

  it('never disposes the gradient passed in, the inputs or the saved values', () => {
    const x = tensor([1, 2, 3], on);
    const h = x.mul(x);
    const out = h.exp();
    const seed = tensor([1, 0.5, 0.25], { backend: 'opaque' });
    out.backward(seed, { retainGraph: true });
    for (const t of [seed, x, h, out]) expect(t.disposed).toBe(false);
    expect(seed.toList()).toEqual([1, 0.5, 0.25]);
    // With the graph retained, a second pass accumulates into the gradients the first one left.
    const first = x.grad!.toArray() as Float32Array;
    out.backward(seed);
    for (const [i, g] of (x.grad!.toArray() as Float32Array).entries()) {
      expect(g).toBeCloseTo(2 * first[i]!, 4);
    }
  });

  it('a view a rule returns keeps its storage when the tensor it views is disposed', () => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      on,
    );
    // reshape's and transpose's rules return views of the incoming gradient.
    x.mul(2)
      .reshape(4)
      .mul(tensor([1, 2, 3, 4], { backend: 'opaque' }))
      .sum()
      .backward();
    expect(x.grad!.toList()).toEqual([
      [2, 4],
      [6, 8],
    ]);
    const y = tensor([[1, 2, 3]], on);
    y.transpose(0, 1)
      .mul(tensor([[1], [10], [100]], { backend: 'opaque' }))
      .sum()
      .backward();
    expect(y.grad!.toList()).toEqual([[1, 10, 100]]);
  });

  it('leaf gradients outlive a tidy around the step and accumulate over steps', () => {
    const w = tensor([1, 2], on);
    const step = () => tidy(() => w.mul(w).sum().backward());
    step();
    const first = w.grad!;
    expect(first.disposed).toBe(false);
    step();
    expect(w.grad!.toList()).toEqual([4, 8]);
    // The gradient from before the pass is the caller's (they may hold it): replaced, not disposed.
    expect(first.disposed).toBe(false);
    expect(first.toList()).toEqual([2, 4]);
    // Besides the new gradient, nothing the step made is left: the loss, the graph, the temporaries.
    w.grad = null;
    expect(survivors(() => step())).toBe(1);
  });

  it('a long chain frees every temporary as it goes', () => {
    const x = tensor([0.1, 0.2], on);
    let y: Tensor = x;
    for (let i = 0; i < 200; i++) y = y.mul(1.01).add(0.001);
    const loss = y.sum();
    expect(survivors(() => loss.backward())).toBe(1);
    noGrad(() => expect((x.grad!.toArray() as Float32Array)[0]).toBeCloseTo(1.01 ** 200, 3));
    expect(ones([1], { backend: 'opaque' }).disposed).toBe(false);
  });
});
