import { Linear, Module } from '@lorakit/nn';
import { manualSeed, randn, type Tensor, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import {
  getPeftModel,
  LoraConfig,
  type LoraLinear,
  peftInitRewritesBase,
  registerInitStrategy,
  unregisterInitStrategy,
} from './index.js';

class Attention extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(16, 16));
    this.registerModule('v_proj', new Linear(16, 16));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x).add(this.child('v_proj').call(x));
  }
}

describe('README: a third-party init strategy', () => {
  it('registers, initializes the targeted layer, and leaves the output unchanged at step 0', () => {
    manualSeed(0);
    registerInitStrategy({
      name: 'scaled-normal',
      kinds: ['linear', 'conv'],
      initialize(ctx) {
        ctx.loraA.assign(randn(ctx.loraA.shape, { std: 0.01 }));
        ctx.loraB.assign(0);
      },
    });
    try {
      const model = new Attention();
      const x = randn([2, 16]);
      const before = model.call(x).toArray();
      const peft = getPeftModel(
        model,
        new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'scaled-normal' }),
      );
      const layer = peft.model.getSubmodule<LoraLinear>('q_proj');
      expect(layer.loraA('default').weight.std().item()).toBeGreaterThan(0.005);
      expect(layer.loraA('default').weight.std().item()).toBeLessThan(0.02);
      expect(Array.from(peft.model.call(x).toArray() as Float32Array)).toEqual(
        Array.from(before as Float32Array),
      );
      expect(() =>
        registerInitStrategy({ name: 'scaled-normal', kinds: ['linear'], initialize() {} }),
      ).toThrow(
        '[registerInitStrategy] an init strategy named "scaled-normal" is already registered; registered: kaiming, gaussian, false, scaled-normal',
      );
      expect(() =>
        getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'nope' })),
      ).toThrow(
        "[lora] Unknown initialization init_lora_weights='nope' for linear layer q_proj; registered strategies: kaiming, gaussian, false, scaled-normal",
      );
      expect(tensor(1).item()).toBe(1);
    } finally {
      unregisterInitStrategy('scaled-normal');
    }
  });
});

describe('inits from plugins that are not imported', () => {
  it('name the package to import, for new adapters and for loading ones', () => {
    expect(() =>
      getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'pissa' })),
    ).toThrow(
      "[lora] Unknown initialization init_lora_weights='pissa' for linear layer q_proj; registered strategies: kaiming, gaussian, false; it is provided by @lorakit/inits-svd: import '@lorakit/inits-svd' first",
    );
    expect(() =>
      getPeftModel(
        new Attention(),
        new LoraConfig({
          targetModules: ['q_proj'],
          initLoraWeights: 'loftq',
          loftqConfig: { loftq_bits: 4 },
        }),
        {
          initWeights: false,
        },
      ),
    ).toThrow(
      "[lora] init_lora_weights='loftq' is not a registered init strategy, so loading this adapter cannot tell whether its init rewrote the base weight; it is provided by @lorakit/loftq: import '@lorakit/loftq' first; registered strategies: kaiming, gaussian, false",
    );
  });

  it("load adapters of PEFT's inits that leave the base alone without their plugin, as PEFT does", () => {
    for (const init of ['eva', 'orthogonal', 'gaussian']) {
      const model = new Attention();
      const before = model.child<Linear>('q_proj').weight.toArray();
      const peft = getPeftModel(model, new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: init }), {
        initWeights: false,
      });
      expect(peft.loraLayers().map(([path]) => path)).toEqual(['q_proj']);
      expect(model.child<LoraLinear>('q_proj').baseLayer.param('weight')!.toArray()).toEqual(before);
    }
    // A base-rewriting PEFT init still needs its plugin, whatever the case PEFT accepts (OLoRA: any).
    expect(() =>
      getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'OLoRA' }), {
        initWeights: false,
      }),
    ).toThrow("[lora] init_lora_weights='OLoRA' is not a registered init strategy");
    expect(
      ['pissa_niter_4', 'corda', 'olora', 'loftq', 'eva', true, 'mine'].map(peftInitRewritesBase),
    ).toEqual([true, true, true, true, false, false, undefined]);
  });

  it('refuse to load an adapter whose init nobody registered and PEFT does not know, since only the strategy knows whether it rewrote the base', () => {
    expect(() =>
      getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'mine' }), {
        initWeights: false,
      }),
    ).toThrow(
      "[lora] init_lora_weights='mine' is not a registered init strategy, so loading this adapter cannot tell whether its init rewrote the base weight; import the package that registers it first; registered strategies: kaiming, gaussian, false",
    );
    // Once registered, the strategy's modifiesBaseWeight decides: false → loading skips the init.
    let runs = 0;
    registerInitStrategy({
      name: 'mine',
      kinds: ['linear'],
      initialize: () => {
        runs++;
      },
    });
    try {
      getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'mine' }), {
        initWeights: false,
      });
      expect(runs).toBe(0);
    } finally {
      unregisterInitStrategy('mine');
    }
  });

  it('match case-sensitively like PEFT: "PiSSA" is an unknown initialization, not a missing plugin', () => {
    expect(() =>
      getPeftModel(new Attention(), new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'PiSSA' })),
    ).toThrow(
      "[lora] Unknown initialization init_lora_weights='PiSSA' for linear layer q_proj; registered strategies: kaiming, gaussian, false",
    );
  });
});
