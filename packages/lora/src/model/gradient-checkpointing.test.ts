import { createModel, type PreTrainedModel } from '@lorakit/models';
import { Generator, manualSeed, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel } from '../index.js';

// A tiny Llama with a LoRA adapter on every linear layer, lora_dropout and attention dropout on: the
// gradients of the adapter must not change when the decoder layers are checkpointed (models'
// gradientCheckpointingEnable, tensor's checkpoint), down to the bit on the js backend.
const config = {
  model_type: 'llama',
  vocab_size: 32,
  hidden_size: 16,
  intermediate_size: 24,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  num_hidden_layers: 3,
  attention_dropout: 0.1,
};

function adapterGradients(checkpointed: boolean, dropout: number) {
  const model = createModel(config, { generator: new Generator(5) });
  if (checkpointed) model.gradientCheckpointingEnable();
  manualSeed(8);
  const peft = getPeftModel(model, {
    r: 4,
    loraAlpha: 8,
    loraDropout: dropout,
    targetModules: 'all-linear',
    initLoraWeights: 'gaussian',
  });
  peft.train();
  manualSeed(13);
  const inputIds = tensor(
    [
      [1, 4, 9, 16, 25],
      [3, 6, 9, 12, 15],
    ],
    { dtype: 'int64' },
  );
  const loss = (
    peft.call({ inputIds, labels: inputIds }) as { loss: { backward(): void; toArray(): unknown } }
  ).loss;
  loss.backward();
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  return {
    checkpointing: (peft.model as PreTrainedModel).isGradientCheckpointing,
    loss: loss.toArray(),
    grads: trainable.map(([name, p]) => [name, p.grad?.toArray()]),
  };
}

describe('LoRA training with gradient checkpointing', () => {
  it('gives the adapter bitwise the gradients it gets without checkpointing, lora_dropout included', () => {
    const plain = adapterGradients(false, 0.1);
    const recomputed = adapterGradients(true, 0.1);
    expect([plain.checkpointing, recomputed.checkpointing]).toEqual([false, true]);
    // lora_A and lora_B of 7 projections in 3 layers, every one with a gradient.
    expect(recomputed.grads).toHaveLength(42);
    expect(recomputed.grads.every(([, g]) => g !== undefined)).toBe(true);
    expect(recomputed.loss).toEqual(plain.loss);
    expect(recomputed.grads).toEqual(plain.grads);
    // The dropout really acted: without it the gradients are other numbers.
    expect(adapterGradients(true, 0).grads).not.toEqual(plain.grads);
  });
});
