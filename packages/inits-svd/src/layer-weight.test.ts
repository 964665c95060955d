import { getPeftModel, type InitContext, LoraConfig } from '@lorakit/lora';
import { Linear, Parameter } from '@lorakit/nn';
import { randn, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { Holder } from '../test/modules.js';
import './index.js';
import { assignFactors } from './layer-weight.js';

describe('layer helpers', () => {
  it('names the layer when its base has no weight', () => {
    const linear = new Linear(4, 4);
    linear.registerParameter('weight', null);
    expect(() =>
      getPeftModel(
        new Holder(linear),
        new LoraConfig({ r: 2, targetModules: ['proj'], initLoraWeights: 'pissa' }),
      ),
    ).toThrow('[pissa] proj has no weight parameter');
  });

  it('checks factor shapes before assigning them', () => {
    const context = {
      modulePath: 'layers.0.q_proj',
      loraA: new Parameter(zeros([2, 4])),
      loraB: new Parameter(zeros([3, 2])),
    } as unknown as InitContext;
    expect(() => assignFactors(context, 'pissa', randn([2, 5]), randn([3, 2]))).toThrow(
      "[pissa] computed lora_A of shape [2, 5] for layers.0.q_proj, but the adapter's lora_A is [2, 4]",
    );
  });
});
