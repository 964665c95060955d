import { manualSeed, ones, type Tensor } from '@lorakit/tensor';
import { describeEachBackend } from '@lorakit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { expectClose, layersFile, load, namesUnder, reference } from '../../test/reference-data.js';
import type { AnyModule } from '../module.js';
import { Module } from '../module.js';
import { ActivationLayer, Dropout, LayerNorm, RMSNorm } from './basic.js';
import { ModuleDict, ModuleList, Sequential } from './containers.js';
import { Conv1d, Conv2d, Conv3d } from './conv.js';
import { Embedding } from './embedding.js';
import { Conv1D, Linear } from './linear.js';

/** The layout of generate.py's `Containers`: a ModuleList, a Sequential and a ModuleDict. */
class Containers extends Module {
  constructor() {
    super();
    this.registerModule('layers', new ModuleList([new Linear(4, 4), new Linear(4, 4)]));
    this.registerModule('seq', new Sequential([new Linear(4, 4), new ActivationLayer('tanh')]));
    this.registerModule(
      'heads',
      new ModuleDict({ a: new Linear(4, 3), b: new Linear(4, 3, { bias: false }) }),
    );
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.child<ModuleList<Linear>>('layers')) h = layer.call(h).relu();
    h = this.child<Sequential>('seq').call(h);
    const heads = this.child<ModuleDict<Linear>>('heads');
    return heads.get('a').call(h).add(heads.get('b').call(h));
  }
}

const CASES: Record<string, () => AnyModule> = {
  linear: () => new Linear(5, 3, { init: false }),
  linear_nobias: () => new Linear(5, 3, { bias: false, init: false }),
  conv1d_gpt2: () => new Conv1D(3, 5, { init: false }),
  embedding: () => new Embedding(10, 4, { init: false }),
  embedding_padding: () => new Embedding(10, 4, { paddingIdx: 0, init: false }),
  conv1d: () => new Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2, init: false }),
  conv2d: () => new Conv2d(3, 4, [3, 2], { stride: [1, 2], padding: 1, dilation: [2, 1], init: false }),
  conv2d_same: () => new Conv2d(2, 3, 3, { padding: 'same', bias: false, init: false }),
  conv3d: () => new Conv3d(2, 3, 2, { padding: 1, init: false }),
  layernorm: () => new LayerNorm(6),
  layernorm_2d_nobias: () => new LayerNorm([3, 6], 1e-6, { bias: false }),
  rmsnorm: () => new RMSNorm(6, 1e-6),
  dropout_eval: () => new Dropout(0.3).eval(),
  containers: () => new Containers(),
};

const caseNames = [...new Set(layersFile.names().map((n) => n.slice(0, n.indexOf('.'))))].sort();

describe('layer reference cases', () => {
  it('cover every case of generate.py', () => {
    expect(Object.keys(CASES).sort()).toEqual(caseNames);
  });

  it('name container parameters like PyTorch', () => {
    expect([...new Containers().stateDict().keys()]).toEqual(reference.containers_state_keys);
  });
});

describeEachBackend('layers against PyTorch', () => {
  it.each(caseNames)('%s: output and gradients', (name) => {
    const module = CASES[name]!();
    const params = namesUnder(layersFile, `${name}.param.`);
    module.loadStateDict(new Map(params.map((p) => [p, load(layersFile, `${name}.param.${p}`)])));
    const input = load(layersFile, `${name}.in`);
    const x = input.dtype === 'float32' ? input.setRequiresGrad() : input;
    const out = module.call(x) as Tensor;
    expectClose(out, load(layersFile, `${name}.out`), `${name} output`);
    out
      .mul(load(layersFile, `${name}.cot`))
      .sum()
      .backward();
    if (x.requiresGrad) expectClose(x.grad, load(layersFile, `${name}.grad.in`), `${name} input gradient`);
    const named = new Map(module.namedParameters());
    for (const p of params) {
      expectClose(
        named.get(p)?.grad,
        load(layersFile, `${name}.grad.param.${p}`),
        `${name} gradient of ${p}`,
      );
    }
  });
});

describeEachBackend('Dropout', () => {
  it('is the identity in eval mode and with p = 0', () => {
    manualSeed(1);
    const x = load(layersFile, 'dropout_eval.in');
    expect(new Dropout(0.5).eval().call(x)).toBe(x);
    expect(new Dropout(0).call(x)).toBe(x);
  });

  it('in training zeroes about p of the elements and scales the rest by 1/(1 − p)', () => {
    manualSeed(2);
    const p = 0.3;
    const x = ones([200, 50]).setRequiresGrad();
    const y = new Dropout(p).call(x);
    const values = Array.from(y.toArray() as Float32Array);
    const kept = values.filter((v) => v !== 0);
    expect(kept.every((v) => Math.abs(v - 1 / (1 - p)) < 1e-6)).toBe(true);
    expect(Math.abs(1 - kept.length / values.length - p)).toBeLessThan(0.02);
    y.sum().backward();
    // The gradient flows through the same mask, with the same scale.
    expect(Array.from(x.grad!.toArray() as Float32Array)).toEqual(values.map((v) => Math.fround(v)));
  });

  it('zeroes everything with p = 1', () => {
    const y = new Dropout(1).call(ones([3, 4]));
    expect(Array.from(y.toArray() as Float32Array).every((v) => v === 0)).toBe(true);
  });
});
