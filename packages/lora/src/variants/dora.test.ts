import {
  type AnyModule,
  Conv1D,
  Conv2d,
  Embedding,
  Linear,
  Module,
  type ModuleDict,
  Parameter,
} from '@lorakit/nn';
import {
  embedding,
  getBackend,
  manualSeed,
  noGrad,
  randint,
  randn,
  registerBackend,
  type Tensor,
  tidy,
  unregisterBackend,
  withBackend,
} from '@lorakit/tensor';
import { describe, expect, it, vi } from 'vitest';
import type { LoraConfigOptions } from '../config/lora-config.js';
import { MergeError } from '../errors.js';
import {
  getPeftModel,
  type LoraConv,
  type LoraEmbedding,
  type LoraLinear,
  type PeftModel,
} from '../index.js';
import { doraWeightNormComposed } from './dora-norm.js';

/** One target module `t` (and nothing else) in a model. */
class Holder extends Module<[Tensor], Tensor> {
  constructor(target: AnyModule) {
    super();
    this.registerModule('t', target);
  }
  forward(x: Tensor): Tensor {
    return this.child<AnyModule>('t').call(x) as Tensor;
  }
}

const DORA = { r: 4, loraAlpha: 6, targetModules: ['t'], useDora: true, initLoraWeights: false };

function magnitude(layer: AnyModule, adapter: string): Parameter {
  return layer.child<ModuleDict>('lora_magnitude_vector').get(adapter).param('weight')!;
}

/** Random B and a magnitude that differs from the norm, so that k = m/‖W+sBA‖ is not 1. */
function perturb(layer: AnyModule, adapter: string, b: Tensor): void {
  noGrad(() => {
    b.assign(randn(b.shape, { std: 0.3 }).cast(b.dtype));
    const m = magnitude(layer, adapter);
    m.assign(m.mul(randn(m.shape, { std: 0.2 }).add(1).cast(m.dtype)));
  });
}

function dora(target: AnyModule, options: Partial<LoraConfigOptions> = {}): PeftModel {
  const peft = getPeftModel(new Holder(target), { ...DORA, ...options });
  const layer = peft.loraLayers()[0]![1];
  const { b } = layer.factorParameters('default');
  perturb(layer, 'default', b);
  return peft;
}

function linearLayer(peft: PeftModel): LoraLinear {
  return peft.loraLayers()[0]![1] as LoraLinear;
}

/** PEFT's DoRA linear forward (spec §4.2), the norm built as ‖W + s·BA‖: the reference. */
function referenceLinear(layer: LoraLinear, x: Tensor, dropped?: (x: Tensor) => Tensor): Tensor {
  const base = layer.baseLayer;
  const w = layer.linearWeight();
  const bias = base.param('bias');
  let result = base.call(x) as Tensor;
  for (const adapter of layer.activeAdapters) {
    const a = layer.loraA(adapter).weight;
    const b = layer.loraB(adapter).weight;
    const s = layer.scaling.get(adapter)!;
    const k = magnitude(layer, adapter).div(doraWeightNormComposed(w, a, b, s));
    const hidden = dropped ? dropped(x) : x;
    const baseResult = dropped ? hidden.matmul(w.T) : bias ? result.sub(bias) : result;
    const lora = hidden.matmul(a.T).matmul(b.T).mul(s);
    result = result.add(k.sub(1).mul(baseResult)).add(k.mul(lora));
  }
  return result;
}

/** max |a − b| / max |b|. */
function relativeDiff(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item() / b.abs().max().item();
}

/** Output and the gradients of x, A, B and m of every active adapter: ours against the reference. */
function expectMatches(layer: LoraLinear, x: Tensor, tolerance: number, dropped?: (x: Tensor) => Tensor) {
  const trainable = layer.activeAdapters.flatMap((adapter) => [
    layer.loraA(adapter).weight,
    layer.loraB(adapter).weight,
    magnitude(layer, adapter),
  ]);
  const input = x.detach().setRequiresGrad();
  const g = randn([x.shape[0]!, layer.outFeatures]);
  const run = (forward: (x: Tensor) => Tensor) => {
    for (const p of [input, ...trainable]) p.grad = null;
    const y = forward(input);
    y.mul(g).sum().backward();
    return { y: y.detach(), grads: [input, ...trainable].map((p) => p.grad!) };
  };
  const ours = run((t) => layer.call(t) as Tensor);
  const reference = run((t) => referenceLinear(layer, t, dropped));
  expect(ours.y.dtype).toBe(reference.y.dtype);
  expect(relativeDiff(ours.y, reference.y), 'output').toBeLessThan(tolerance);
  ours.grads.forEach((grad, i) => {
    expect(relativeDiff(grad, reference.grads[i]!), `gradient ${i}`).toBeLessThan(tolerance);
  });
}

describe('DoRA linear forward (factored norm) against PEFT’s formula with the composed norm', () => {
  it('Linear with bias: output and gradients of x, A, B and the magnitude', () => {
    manualSeed(1);
    const layer = linearLayer(dora(new Linear(20, 12)));
    expectMatches(layer, randn([7, 20]), 1e-5);
  });

  it('one adapter without dropout runs on the fused LoRA linear; a hook on the base takes the general path, same values', () => {
    manualSeed(16);
    const layer = linearLayer(dora(new Linear(20, 12)));
    const call = vi.spyOn(layer.baseLayer, 'call');
    const x = randn([7, 20]);
    const fused = noGrad(() => layer.call(x) as Tensor);
    expect(call).not.toHaveBeenCalled();
    layer.baseLayer.registerForwardHook(() => undefined);
    expectMatches(layer, x, 1e-5);
    expect(call).toHaveBeenCalled();
    expect(
      relativeDiff(
        noGrad(() => layer.call(x) as Tensor),
        fused,
      ),
    ).toBeLessThan(1e-6);
  });

  it('GPT-2 Conv1D on the general path (a hook on the base)', () => {
    manualSeed(17);
    const conv1d = new Conv1D(12, 20);
    noGrad(() => conv1d.param('bias')!.assign(randn([12])));
    conv1d.registerForwardHook(() => undefined);
    expectMatches(linearLayer(dora(conv1d, { fanInFanOut: true })), randn([7, 20]), 1e-5);
  });

  it('Linear without bias', () => {
    manualSeed(2);
    const layer = linearLayer(dora(new Linear(20, 12, { bias: false })));
    expectMatches(layer, randn([7, 20]), 1e-5);
  });

  it('GPT-2 Conv1D (fan_in_fan_out: W stored [in, out]) with bias', () => {
    manualSeed(3);
    const conv1d = new Conv1D(12, 20);
    noGrad(() => conv1d.param('bias')!.assign(randn([12])));
    const layer = linearLayer(dora(conv1d, { fanInFanOut: true }));
    expect(layer.fanInFanOut).toBe(true);
    expectMatches(layer, randn([7, 20]), 1e-5);
  });

  it('two active DoRA adapters: each rescales the running sum, in order', () => {
    manualSeed(4);
    const peft = dora(new Linear(20, 12));
    peft.addAdapter('second', { ...DORA, r: 3 });
    const layer = linearLayer(peft);
    perturb(layer, 'second', layer.loraB('second').weight);
    layer.setAdapter(['default', 'second']);
    expectMatches(layer, randn([7, 20]), 1e-5);
  });

  it('float64 base weight, factors, magnitude and input', () => {
    manualSeed(5);
    const peft = dora(new Linear(20, 12));
    for (const [path, p] of peft.model.namedParameters())
      peft.model.setParameter(path, new Parameter(p.detach().double(), p.requiresGrad));
    const layer = linearLayer(peft);
    expect(layer.baseLayer.param('weight')!.dtype).toBe('float64');
    expectMatches(layer, randn([7, 20], { dtype: 'float64' }), 1e-12);
  });

  it('a bfloat16 base weight, float32 factors', () => {
    manualSeed(6);
    const linear = new Linear(20, 12);
    linear.registerParameter(
      'weight',
      new Parameter(linear.param('weight')!.detach().cast('bfloat16'), false),
    );
    const layer = linearLayer(dora(linear));
    expect(layer.baseLayer.param('weight')!.dtype).toBe('bfloat16');
    expectMatches(layer, randn([7, 20]), 1e-5);
  });

  it.each([
    ['fused', false],
    ['general', true],
  ])(
    'a bfloat16 model (W, bias and input), %s path: bfloat16 output within two roundings, float32 gradients',
    (_, general) => {
      manualSeed(9);
      const linear = new Linear(20, 12);
      for (const name of ['weight', 'bias'])
        linear.registerParameter(name, new Parameter(linear.param(name)!.detach().cast('bfloat16'), false));
      const layer = linearLayer(dora(linear));
      if (general) linear.registerForwardHook(() => undefined);
      const x = randn([7, 20]).cast('bfloat16');
      const trainable = [
        layer.loraA('default').weight,
        layer.loraB('default').weight,
        magnitude(layer, 'default'),
      ];
      const g = randn([7, 12]);
      const run = (forward: () => Tensor) => {
        for (const p of trainable) p.grad = null;
        const y = forward();
        y.float().mul(g).sum().backward();
        return { y: y.detach(), grads: trainable.map((p) => p.grad!) };
      };
      const ours = run(() => layer.call(x) as Tensor);
      const reference = run(() => referenceLinear(layer, x));
      expect(ours.y.dtype).toBe('bfloat16');
      // The sum result + s·lora is rounded to bfloat16 before the scaling, the output once more.
      expect(relativeDiff(ours.y.float(), reference.y)).toBeLessThan(2 * 2 ** -8);
      ours.grads.forEach((grad, i) => {
        expect(grad.dtype).toBe('float32');
        expect(relativeDiff(grad, reference.grads[i]!), `gradient ${i}`).toBeLessThan(2 ** -7);
      });
    },
  );

  it('active dropout: the base output is recomputed on the dropped input (a fixed mask stands in)', () => {
    manualSeed(7);
    const layer = linearLayer(dora(new Linear(20, 12), { loraDropout: 0.5 }));
    const mask = randint(0, 2, [7, 20]).float().mul(2);
    class FixedMask extends Module<[Tensor], Tensor> {
      forward(x: Tensor): Tensor {
        return x.mul(mask);
      }
    }
    layer.child<ModuleDict>('lora_dropout').set('default', new FixedMask());
    layer.train();
    expectMatches(layer, randn([7, 20]), 1e-5, (x) => x.mul(mask));
  });

  it('dropout configured but in eval mode: the base output is reused, no dropout', () => {
    manualSeed(8);
    const layer = linearLayer(dora(new Linear(20, 12), { loraDropout: 0.5 }));
    layer.eval();
    expectMatches(layer, randn([7, 20]), 1e-5);
  });
});

describe('DoRA never uses a stale ‖W‖²', () => {
  it('after an in-place write of the base weight (writeBaseWeight, assign)', () => {
    manualSeed(10);
    const layer = linearLayer(dora(new Linear(20, 12)));
    const x = randn([5, 20]);
    expectMatches(layer, x, 1e-5);
    noGrad(() => layer.setBaseWeight(layer.baseWeight().mul(3)));
    expectMatches(layer, x, 1e-5);
    noGrad(() => layer.baseLayer.param('weight')!.narrow(0, 2, 3).assign(0.5));
    expectMatches(layer, x, 1e-5);
  });

  it('after merge and unmerge', () => {
    manualSeed(11);
    const peft = dora(new Linear(20, 12));
    const layer = linearLayer(peft);
    const x = randn([5, 20]);
    const before = noGrad(() => layer.call(x) as Tensor);
    layer.merge();
    expect(
      relativeDiff(
        noGrad(() => layer.call(x) as Tensor),
        before,
      ),
    ).toBeLessThan(1e-5);
    layer.unmerge();
    expect(
      relativeDiff(
        noGrad(() => layer.call(x) as Tensor),
        before,
      ),
    ).toBeLessThan(1e-5);
    // While merged, B changes; after unmerging, the forward follows the restored weight and the new B.
    layer.merge();
    perturb(layer, 'default', layer.loraB('default').weight);
    layer.unmerge();
    expectMatches(layer, x, 1e-5);
  });

  it('after loading base weights, replacing the parameter or writing into it', () => {
    manualSeed(12);
    const peft = dora(new Linear(20, 12));
    const layer = linearLayer(peft);
    const x = randn([5, 20]);
    expectMatches(layer, x, 1e-5);
    const key = 't.base_layer.weight';
    peft.model.loadStateDict(new Map([[key, randn([12, 20])]]), { strict: false });
    expectMatches(layer, x, 1e-5);
    peft.model.loadStateDict(new Map([[key, randn([12, 20])]]), { strict: false, assign: false });
    expectMatches(layer, x, 1e-5);
  });
});

describe('DoRA merge cache', () => {
  const targets: [string, () => AnyModule, () => Tensor][] = [
    ['Linear', () => new Linear(20, 12), () => randn([5, 20])],
    ['Embedding', () => new Embedding(30, 8), () => randint(0, 30, [2, 5], { dtype: 'int64' })],
    ['Conv2d', () => new Conv2d(3, 5, 3, { padding: 1 }), () => randn([2, 3, 6, 6])],
  ];
  it.each(targets)('%s: a merge inside tidy() can still be unmerged', (_, make, input) => {
    manualSeed(14);
    const peft = dora(make());
    const layer = peft.loraLayers()[0]![1];
    const x = input();
    const before = noGrad(() => layer.call(x) as Tensor);
    tidy(() => layer.merge());
    expect(
      relativeDiff(
        noGrad(() => layer.call(x) as Tensor),
        before,
      ),
    ).toBeLessThan(1e-5);
    layer.unmerge();
    expect(layer.mergeCache.size).toBe(0);
    expect(
      relativeDiff(
        noGrad(() => layer.call(x) as Tensor),
        before,
      ),
    ).toBeLessThan(1e-5);
  });

  it('unmerging without the norm cached at merge time (merged in another process) names the adapter', () => {
    manualSeed(15);
    const layer = linearLayer(dora(new Linear(20, 12)));
    layer.mergedAdapters.push('default');
    expect(() => layer.unmerge()).toThrow(
      new MergeError('[dora] no cached weight norm for adapter "default"; it was not merged in this process'),
    );
  });
});

describe('DoRA reads the stored base weight', () => {
  it('a bfloat16 weight is never copied (cast or made contiguous) in the forward', () => {
    const name = 'js-dora-native-half';
    const js = getBackend('js');
    const copies: number[] = [];
    registerBackend({
      ...js,
      name,
      fusedHalfPrecision: true,
      copy: (view, dtype) => {
        copies.push(view.shape.reduce((n, d) => n * d, 1));
        return js.copy(view, dtype);
      },
    });
    try {
      withBackend(name, () => {
        manualSeed(13);
        const linear = new Linear(20, 12);
        const weight = linear.param('weight')!.detach().cast('bfloat16');
        linear.registerParameter('weight', new Parameter(weight, false));
        const layer = linearLayer(dora(linear));
        const x = randn([5, 20]).cast('bfloat16');
        noGrad(() => layer.call(x));
        copies.length = 0;
        noGrad(() => layer.call(x));
        expect(copies.length).toBeGreaterThan(0);
        expect(copies.filter((size) => size === weight.size)).toEqual([]);
      });
    } finally {
      unregisterBackend(name);
    }
  });
});

describe('DoRA embedding and conv forwards (factored norm) against PEFT’s formula', () => {
  it('Embedding: k ⊙ (E[x] + s·A_eᵀ[x]·B_eᵀ), the norm over the vocabulary per dimension', () => {
    manualSeed(20);
    const peft = dora(new Embedding(30, 8));
    const layer = peft.loraLayers()[0]![1] as LoraEmbedding;
    const ids = randint(0, 30, [3, 5], { dtype: 'int64' });
    const ours = noGrad(() => layer.call(ids) as Tensor);
    const reference = noGrad(() => {
      const w = layer.baseWeight();
      const a = layer.embeddingA('default');
      const b = layer.embeddingB('default');
      const s = layer.scaling.get('default')!;
      const k = magnitude(layer, 'default').div(doraWeightNormComposed(w.T, a, b, s));
      return k.mul(embedding(ids, w)).add(k.mul(embedding(ids, a.T).matmul(b.T).mul(s)));
    });
    expect(relativeDiff(ours, reference)).toBeLessThan(1e-5);
  });

  it('Conv2d with bias: the norm per output channel over the flattened kernel', () => {
    manualSeed(21);
    const conv = new Conv2d(3, 5, 3, { padding: 1 });
    const peft = dora(conv);
    const layer = peft.loraLayers()[0]![1] as LoraConv;
    const x = randn([2, 3, 6, 6]);
    const ours = noGrad(() => layer.call(x) as Tensor);
    const reference = noGrad(() => {
      const w = layer.baseWeight();
      const a = layer.loraA('default').weight;
      const b = layer.loraB('default').weight;
      const s = layer.scaling.get('default')!;
      const norm = doraWeightNormComposed(w.reshape(5, -1), a.reshape(4, -1), b.reshape(5, 4), s);
      const k = magnitude(layer, 'default').div(norm.reshape(1, -1, 1, 1));
      const result = conv.call(x) as Tensor;
      const baseResult = result.sub(conv.param('bias')!.reshape(1, -1, 1, 1));
      const lora = layer.loraB('default').call(layer.loraA('default').call(x)).mul(s);
      return result.add(k.sub(1).mul(baseResult)).add(k.mul(lora));
    });
    expect(relativeDiff(ours, reference)).toBeLessThan(1e-5);
  });
});
