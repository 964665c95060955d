import {
  addWeightedAdapter,
  getInitMethod,
  getPeftModel,
  LoraConfig,
  registerInitMethod,
  registerInitStrategy,
  registerMergeStrategy,
  unregisterInitMethod,
  unregisterInitStrategy,
} from '@lorakit/lora';
import { Linear, Module } from '@lorakit/nn';
import { randn, type Tensor } from '@lorakit/tensor';
import { afterAll, describe, expect, it } from 'vitest';

/** The init and merge examples of ARCHITECTURE.md, as written there, so the document cannot go stale. */
class Toy extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(64, 64));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x);
  }
}

registerInitStrategy({
  name: 'scaled-normal',
  kinds: ['linear', 'conv'],
  modifiesBaseWeight: false,
  matches: (value) => typeof value === 'string' && /^scaled_normal_\d+$/.test(value),
  initialize(ctx) {
    const exponent = Number(String(ctx.value).slice('scaled_normal_'.length));
    ctx.loraA.assign(randn(ctx.loraA.shape, { std: 10 ** -exponent, generator: ctx.generator }));
    ctx.loraB.assign(0);
  },
});
registerInitMethod({
  name: 'scaled-normal',
  summary: 'A ~ N(0, (10^-n)²), B = 0',
  inputs: [
    { name: 'scaled-normal-exponent', description: 'std = 10^-n', type: 'integer', min: 1, default: 2 },
  ],
  configure(config, values) {
    config.initLoraWeights = `scaled_normal_${values['scaled-normal-exponent'] ?? 2}`;
  },
});
registerMergeStrategy({
  name: 'normalized-linear',
  rank: 'equal',
  combine({ sources }) {
    const total = sources.reduce((sum, s) => sum + s.weight, 0);
    const factor = (s: (typeof sources)[number]) => Math.sqrt((s.weight / total) * s.scaling);
    return {
      a: sources.map((s) => s.a.mul(factor(s))).reduce((x, y) => x.add(y)),
      b: sources.map((s) => s.b.mul(factor(s))).reduce((x, y) => x.add(y)),
    };
  },
});

afterAll(() => {
  unregisterInitMethod('scaled-normal');
  unregisterInitStrategy('scaled-normal');
});

describe('ARCHITECTURE.md examples', () => {
  it('an init strategy and its method: the method configures, the strategy initializes', () => {
    const config = new LoraConfig({ targetModules: ['q_proj'], r: 8 });
    getInitMethod('scaled-normal').configure(config, { 'scaled-normal-exponent': 3 });
    expect(config.initLoraWeights).toBe('scaled_normal_3');
    const peft = getPeftModel(new Toy(), config);
    const { a, b } = peft.loraLayers()[0]![1].factorParameters('default');
    expect(a.std().item()).toBeGreaterThan(0.0007);
    expect(a.std().item()).toBeLessThan(0.0013);
    expect(b.abs().max().item()).toBe(0);
  });

  it('a merge strategy: the merged factors are the weight-normalized sums of the factors', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], r: 4, initLoraWeights: false });
    peft.addAdapter('other', new LoraConfig({ targetModules: ['q_proj'], r: 4, initLoraWeights: false }));
    addWeightedAdapter(peft, ['default', 'other'], [3, 1], 'merged', 'normalized-linear');
    const layer = peft.loraLayers()[0]![1];
    // PEFT's "linear" family: merged A = Σ f·A, merged B = Σ f·B with f = √(normalized weight · scaling).
    const merged = layer.deltaWeight('merged');
    const { a: a1, b: b1 } = layer.factorParameters('default');
    const { a: a2, b: b2 } = layer.factorParameters('other');
    const s = layer.scaling.get('default')!;
    const f1 = Math.sqrt(0.75 * s);
    const f2 = Math.sqrt(0.25 * s);
    const byHand = b1
      .mul(f1)
      .add(b2.mul(f2))
      .matmul(a1.mul(f1).add(a2.mul(f2)));
    expect(merged.sub(byHand).abs().max().item()).toBeLessThan(1e-5);
  });
});
