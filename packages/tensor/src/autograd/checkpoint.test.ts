import { describe, expect, it } from 'vitest';
import {
  AutogradError,
  checkpoint,
  dropout,
  Generator,
  getBackend,
  manualSeed,
  noGrad,
  randn,
  type Tensor,
  tensor,
} from '../index.js';
import type { createOpaqueBackend } from '../testing/opaque-backend.js';

const opaque = getBackend('opaque') as ReturnType<typeof createOpaqueBackend>;

/** A small residual block: norm-free MLP with dropout, parameters reached by closure. */
function block(w1: Tensor, w2: Tensor, p: number, generator?: Generator) {
  return (h: Tensor): Tensor => {
    const inner = dropout(h.matmul(w1).tanh(), p, true, generator);
    return h.add(inner.matmul(w2));
  };
}

interface Run {
  readonly loss: number[];
  readonly grads: number[][];
}

/** A stack of blocks, each checkpointed or not; the values of the loss and of every gradient. */
function run(checkpointed: boolean, options: { inputGrad?: boolean; p?: number } = {}): Run {
  manualSeed(11);
  const backend = { backend: 'js' } as const;
  const x = randn([4, 6], backend).setRequiresGrad(options.inputGrad ?? true);
  const weights = Array.from({ length: 3 }, () => [
    randn([6, 6], backend).mul(0.4).detach().setRequiresGrad(true),
    randn([6, 6], backend).mul(0.4).detach().setRequiresGrad(true),
  ]);
  manualSeed(5);
  let h = x;
  for (const [w1, w2] of weights) {
    const layer = block(w1!, w2!, options.p ?? 0.3);
    h = checkpointed ? checkpoint(layer, h) : layer(h);
  }
  const loss = h.square().mean();
  loss.backward();
  const leaves = [...(x.requiresGrad ? [x] : []), ...weights.flat()];
  return {
    loss: Array.from(loss.toArray() as Float32Array),
    grads: leaves.map((t) => Array.from(t.grad!.toArray() as Float32Array)),
  };
}

describe('checkpoint', () => {
  it('gives bitwise the gradients of the plain call, dropout included (js backend)', () => {
    const plain = run(false);
    const recomputed = run(true);
    expect(recomputed.loss).toEqual(plain.loss);
    expect(recomputed.grads).toEqual(plain.grads);
    // Dropout really dropped something: without it the loss differs.
    expect(run(false, { p: 0 }).loss).not.toEqual(plain.loss);
  });

  it('gives parameters their gradients when no input requires grad (frozen embeddings below LoRA)', () => {
    const plain = run(false, { inputGrad: false });
    expect(run(true, { inputGrad: false }).grads).toEqual(plain.grads);
  });

  it('nests: a checkpoint inside a checkpointed function', () => {
    manualSeed(3);
    const w = randn([6, 6]).mul(0.4).detach().setRequiresGrad(true);
    const x = randn([4, 6]).setRequiresGrad(true);
    const layer = block(w, w, 0.2);
    const grads = (nested: boolean) => {
      w.grad = null;
      x.grad = null;
      manualSeed(9);
      const y = nested ? checkpoint((a) => checkpoint(layer, a).mul(1.5), x) : layer(x).mul(1.5);
      y.sum().backward();
      return [x.grad!.toArray(), w.grad!.toArray()];
    };
    expect(grads(true)).toEqual(grads(false));
  });

  it('replays an explicit generator too and leaves every generator where the forward left it', () => {
    const generator = new Generator(21);
    manualSeed(4);
    const w = randn([5, 5]).detach().setRequiresGrad(true);
    const x = randn([3, 5]).setRequiresGrad(true);
    const y = checkpoint(block(w, w, 0.5, generator), x);
    const after = generator.offset;
    y.sum().backward();
    expect(generator.offset).toBe(after);
    const w2 = w.detach().setRequiresGrad(true);
    const x2 = x.detach().setRequiresGrad(true);
    generator.offset = 0;
    const plain = block(w2, w2, 0.5, generator)(x2);
    plain.sum().backward();
    expect(y.toArray()).toEqual(plain.toArray());
    expect([x.grad!.toArray(), w.grad!.toArray()]).toEqual([x2.grad!.toArray(), w2.grad!.toArray()]);
  });

  it('backpropagates twice with retainGraph, recomputing each time', () => {
    const w = tensor([
      [1, 2],
      [3, 4],
    ]).setRequiresGrad(true);
    const x = tensor([[0.5, -1]]);
    const y = checkpoint((a) => a.matmul(w).square(), x).sum();
    y.backward(undefined, { retainGraph: true });
    const first = Array.from(w.grad!.toArray() as Float32Array);
    y.backward();
    expect(Array.from(w.grad!.toArray() as Float32Array)).toEqual(first.map((g) => 2 * g));
  });

  it('is a plain call without grad recording: no graph, nothing kept', () => {
    const w = tensor([1, 2]).setRequiresGrad(true);
    const y = noGrad(() => checkpoint((a) => a.mul(w), tensor([3, 4])));
    expect([y.requiresGrad, y.gradNode, Array.from(y.toArray() as Float32Array)]).toEqual([
      false,
      null,
      [3, 8],
    ]);
  });

  it('records nothing when nothing it uses requires grad', () => {
    const y = checkpoint((a) => a.mul(2), tensor([3, 4]));
    expect([y.requiresGrad, y.gradNode]).toEqual([false, null]);
  });
});

describe('checkpoint memory (opaque backend)', () => {
  /** The most storages alive at once while `fn` runs (sampled after every kernel call). */
  function peakDuring(fn: () => void): number {
    const backend = opaque as unknown as Record<string, unknown>;
    const originals = new Map<string, (...args: unknown[]) => unknown>();
    let peak = opaque.live();
    for (const [key, value] of Object.entries(backend)) {
      if (typeof value !== 'function' || key === 'live') continue;
      originals.set(key, value as (...args: unknown[]) => unknown);
      backend[key] = (...args: unknown[]) => {
        const out = (value as (...a: unknown[]) => unknown).apply(opaque, args);
        peak = Math.max(peak, opaque.live());
        return out;
      };
    }
    try {
      fn();
    } finally {
      for (const [key, value] of originals) backend[key] = value;
    }
    return peak;
  }

  function stack(checkpointed: boolean): { forward: number; backward: number; afterForward: number } {
    manualSeed(2);
    const on = { backend: 'opaque' } as const;
    const weights = Array.from({ length: 8 }, () =>
      randn([8, 8], on).mul(0.3).detach().setRequiresGrad(true),
    );
    const x = randn([4, 8], on);
    const start = opaque.live();
    let loss: Tensor | undefined;
    const forward = peakDuring(() => {
      let h = x;
      for (const w of weights) {
        const layer = (a: Tensor) => a.add(a.matmul(w).tanh().mul(0.5).sigmoid().matmul(w));
        h = checkpointed ? checkpoint(layer, h) : layer(h);
      }
      loss = h.square().mean();
    });
    const afterForward = opaque.live() - start;
    const backward = peakDuring(() => loss!.backward());
    return { forward: forward - start, backward: backward - start, afterForward };
  }

  it('keeps only the layer inputs after the forward and peaks lower in backward', () => {
    const plain = stack(false);
    const recomputed = stack(true);
    expect(recomputed.afterForward).toBeLessThan(plain.afterForward / 3);
    expect(recomputed.backward).toBeLessThan(plain.backward / 2);
    // Measured: after the forward 60 storages plain vs 12 checkpointed; backward peak 74 vs 34.
  });
});

describe('checkpoint misuse', () => {
  const x = tensor([1, 2]).setRequiresGrad(true);

  it('names a non-function fn', () => {
    expect(() => checkpoint(42 as unknown as (a: Tensor) => Tensor, x)).toThrow(
      new AutogradError('[checkpoint] fn must be a function of the input tensors, received number'),
    );
  });

  it('names an input that is not a tensor', () => {
    expect(() => checkpoint((a: Tensor, _b: Tensor) => a.mul(2), x, [1, 2] as unknown as Tensor)).toThrow(
      new AutogradError(
        '[checkpoint] input 1 must be a Tensor, received an array; pass other arguments through the closure',
      ),
    );
  });

  it('names a result that is not one tensor', () => {
    expect(() => checkpoint((a) => [a.mul(2)] as unknown as Tensor, x)).toThrow(
      new AutogradError('[checkpoint] fn must return one Tensor, in the forward it returned an array'),
    );
    expect(() => noGrad(() => checkpoint((_a: Tensor) => undefined as unknown as Tensor, x))).toThrow(
      new AutogradError(
        '[checkpoint] fn must return one Tensor, called without grad recording it returned undefined',
      ),
    );
  });

  it('refuses a result fn did not create', () => {
    expect(() => checkpoint((a) => a, x)).toThrow(
      new AutogradError(
        '[checkpoint] fn returned a tensor it did not create (one of its inputs, or one from outside); return a new tensor, e.g. input.clone()',
      ),
    );
  });

  it('names a recomputation of another shape', () => {
    let calls = 0;
    const y = checkpoint((a) => (calls++ === 0 ? a.mul(2) : a.reshape(2, 1).mul(2)), x);
    expect(() => y.sum().backward()).toThrow(
      new AutogradError(
        '[checkpoint] fn returned shape [2, 1] when re-run for backward but [2] in the forward; fn must compute the same thing every time',
      ),
    );
  });
});
