import { createModel, type PreTrainedModel, seq2seqLmLoss } from '@lorakit/models';
import { causalLmLoss } from '@lorakit/nn';
import { Generator, manualSeed, type Tensor, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel, type LoraConfigOptions } from '../index.js';

// A labelled call of a causal LM (or T5) takes the loss from the hidden states in chunks
// (linearCrossEntropy) when lm_head is a plain Linear. Through PEFT that must give the adapter the
// gradients of the loss on the logits; a LoRA layer, modules_to_save or trainable tokens on lm_head
// must see the call, so the loss is then taken on the logits.
const FAMILIES: Record<string, Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
  },
  gpt2: { model_type: 'gpt2', vocab_size: 40, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 16 },
  gptj: {
    model_type: 'gptj',
    vocab_size: 40,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    n_positions: 16,
    rotary_dim: 4,
  },
  gemma2: {
    model_type: 'gemma2',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    num_hidden_layers: 2,
    query_pre_attn_scalar: 8,
    sliding_window: 2,
    final_logit_softcapping: 0.5,
  },
  phi3: {
    model_type: 'phi3',
    vocab_size: 40,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    pad_token_id: 0,
  },
  t5: { model_type: 't5', vocab_size: 40, d_model: 16, d_kv: 8, d_ff: 24, num_layers: 2, num_heads: 2 },
};

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int64' });
const inputIds = ids([
  [1, 5, 7, 9, 3, 39, 2],
  [2, 4, 6, 8, 10, 12, 14],
]);
const labels = ids([
  [-100, 5, 7, -100, 3, 39, 2],
  [2, 4, -100, 8, 10, 12, 14],
]);
const decoderInputIds = ids([
  [0, 0, 5, 7, 0, 3, 39],
  [0, 2, 4, 0, 8, 10, 12],
]);

/** Whether the loss's graph went through the chunked op. */
function chunked(loss: Tensor): boolean {
  const seen = new Set<Tensor>();
  const stack = [loss];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.gradNode) continue;
    seen.add(t);
    if (t.gradNode.op.startsWith('linearCrossEntropy')) return true;
    stack.push(...t.gradNode.inputs);
  }
  return false;
}

/** The loss and the trainable parameters' gradients: from a labelled call, or from the logits. */
function adapterStep(family: string, options: Partial<LoraConfigOptions>, labelled: boolean) {
  const model = createModel(FAMILIES[family]!, { generator: new Generator(5) });
  (model as unknown as { lossChunkRows: number }).lossChunkRows = 4;
  manualSeed(8);
  const peft = getPeftModel(model, {
    r: 4,
    loraAlpha: 8,
    targetModules: 'all-linear',
    initLoraWeights: 'gaussian',
    ...options,
  });
  peft.train();
  manualSeed(13); // the same dropout masks (GPT-2 and T5 have dropout by default)
  const extra = model.isEncoderDecoder ? { decoderInputIds } : {};
  let loss: Tensor;
  if (labelled) {
    loss = (peft.call({ inputIds, labels, ...extra }) as { loss: Tensor }).loss;
  } else {
    const logits = (peft.call({ inputIds, ...extra }) as { logits: Tensor }).logits;
    loss = model.isEncoderDecoder ? seq2seqLmLoss(logits, labels) : causalLmLoss(logits, labels);
  }
  const path = chunked(loss);
  loss.backward();
  const trainable = peft.namedParameters().filter(([, p]) => p.requiresGrad);
  return {
    loss: loss.item(),
    chunked: path,
    head: (peft.model as PreTrainedModel).getSubmodule('lm_head').constructor.name,
    grads: trainable.map(([name, p]) => [name, p.grad] as const),
  };
}

function expectSameGradients(
  ours: ReturnType<typeof adapterStep>,
  reference: ReturnType<typeof adapterStep>,
) {
  expect(Math.abs(ours.loss - reference.loss)).toBeLessThan(1e-6 * reference.loss);
  expect(ours.grads.map(([name]) => name)).toEqual(reference.grads.map(([name]) => name));
  ours.grads.forEach(([name, grad], i) => {
    const expected = reference.grads[i]![1]!;
    expect(grad, `${name} has a gradient`).not.toBeNull();
    const a = grad!.toArray() as Float32Array;
    const b = expected.toArray() as Float32Array;
    let scale = 1e-6;
    for (const v of b) scale = Math.max(scale, Math.abs(v));
    for (let k = 0; k < a.length; k++) expect(Math.abs(a[k]! - b[k]!) / scale, name).toBeLessThan(1e-5);
  });
}

describe('LoRA training with the chunked LM loss', () => {
  for (const family of Object.keys(FAMILIES)) {
    it(`${family}: the adapter's gradients equal those of the loss on the logits`, () => {
      const reference = adapterStep(family, {}, false);
      const ours = adapterStep(family, {}, true);
      expect([reference.chunked, ours.chunked]).toEqual([false, true]);
      expect(ours.grads.length).toBeGreaterThan(0);
      expectSameGradients(ours, reference);
    });
  }

  it('lm_head as a LoRA target: its LoRA layer sees the call (the loss on the logits)', () => {
    const options = { targetModules: ['q_proj', 'lm_head'] };
    const reference = adapterStep('llama', options, false);
    const ours = adapterStep('llama', options, true);
    expect(ours.head).toBe('LoraLinear');
    expect(ours.chunked).toBe(false);
    expect(ours.grads.some(([name]) => name.includes('lm_head.lora_B'))).toBe(true);
    expectSameGradients(ours, reference);
  });

  it('lm_head in modules_to_save: the trained copy sees the call', () => {
    const options = { targetModules: ['q_proj'], modulesToSave: ['lm_head'] };
    const reference = adapterStep('gptj', options, false);
    const ours = adapterStep('gptj', options, true);
    expect(ours.chunked).toBe(false);
    expect(ours.grads.some(([name]) => name.includes('lm_head.modules_to_save'))).toBe(true);
    expectSameGradients(ours, reference);
  });

  it('trainable tokens on lm_head: its wrapper sees the call', () => {
    const options = { targetModules: ['q_proj'], trainableTokenIndices: { lm_head: [1, 7] } };
    const reference = adapterStep('llama', options, false);
    const ours = adapterStep('llama', options, true);
    expect(ours.chunked).toBe(false);
    expectSameGradients(ours, reference);
  });
});
