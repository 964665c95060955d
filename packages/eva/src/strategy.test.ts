import { getPeftModel, LoraConfig, type LoraEmbedding, type LoraLinear } from '@lorakit/lora';
import { Conv2d, Embedding, Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import './index.js';

class Mixed extends Module {
  constructor() {
    super();
    this.registerModule('embed', new Embedding(20, 8));
    this.registerModule('proj', new Linear(8, 6));
    this.registerModule('conv', new Conv2d(3, 4, 3));
  }
  forward(x: Tensor): Tensor {
    return this.child('proj').call(this.child('embed').call(x));
  }
}

const eva = (targetModules: string[]) => new LoraConfig({ r: 4, targetModules, initLoraWeights: 'eva' });

describe("init_lora_weights: 'eva' at injection", () => {
  it('linear: B = 0 and A at nn.Linear’s default U(±1/√in), as PEFT leaves it before EVA runs', () => {
    const config = eva(['proj']);
    const peft = getPeftModel(new Mixed(), config);
    const layer = new Map(peft.loraLayers()).get('proj') as LoraLinear;
    const { a, b } = layer.factorParameters('default');
    expect(b.abs().max().item()).toBe(0);
    const max = a.abs().max().item();
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(config.warnings).toContain(
      "`init_lora_weights` is 'eva' but `eva_config` is not specified. Using default EVA config.",
    );
  });

  it('embedding: falls back to the default init (A = 0), as PEFT; conv: unknown initialization', () => {
    const peft = getPeftModel(new Mixed(), eva(['embed']));
    const layer = new Map(peft.loraLayers()).get('embed') as LoraEmbedding;
    expect(layer.factorParameters('default').a.abs().max().item()).toBe(0);
    expect(() => getPeftModel(new Mixed(), eva(['conv']))).toThrow(
      /^\[lora\] Unknown initialization init_lora_weights='eva' for conv layer conv; registered strategies: .*\(eva supports linear layers\)$/,
    );
  });
});
