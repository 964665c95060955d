import { causalLmLoss } from '@lorakit/nn';
import { type Dtype, manualSeed, noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import type { Gemma2Config } from '../config/gemma2-config.js';
import { createModel, Gemma2ForCausalLM, ModelError, type PreTrainedModel, parseConfig } from '../index.js';

// Tiny configs of every family with an LM head (GPT-2 and T5 keep their default dropout).
const FAMILIES: Record<string, Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
  },
  'llama (tied)': {
    model_type: 'llama',
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    tie_word_embeddings: true,
  },
  gpt2: { model_type: 'gpt2', vocab_size: 37, n_embd: 16, n_layer: 2, n_head: 2, n_positions: 16 },
  gptj: {
    model_type: 'gptj',
    vocab_size: 37,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    n_positions: 16,
    rotary_dim: 4,
  },
  gemma2: {
    model_type: 'gemma2',
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    num_hidden_layers: 2,
    query_pre_attn_scalar: 8,
    sliding_window: 2,
    // Small enough that the cap bends the logits.
    final_logit_softcapping: 0.5,
  },
  phi3: {
    model_type: 'phi3',
    vocab_size: 37,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    pad_token_id: 0,
  },
  t5: { model_type: 't5', vocab_size: 37, d_model: 16, d_kv: 8, d_ff: 24, num_layers: 2, num_heads: 2 },
};

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int64' });
const inputIds = ids([
  [1, 5, 7, 9, 3, 36],
  [2, 4, 6, 8, 10, 12],
]);
const labels = ids([
  [-100, 5, 7, -100, 3, 36],
  [2, 4, -100, 8, 10, 12],
]);
// T5 reads its decoder input from here (the labels shifted right) in every call, so both paths agree.
const decoderInputIds = ids([
  [0, 0, 5, 7, 0, 3],
  [0, 2, 4, 0, 8, 10],
]);

function build(family: string, dtype?: Dtype): PreTrainedModel {
  manualSeed(3);
  return createModel(FAMILIES[family]!, dtype ? { dtype } : {}).train();
}

/** Whether the recorded graph of `loss` went through the chunked op (the forward made its gradients). */
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

/** The loss and every parameter's gradient of one labelled call. */
function step(
  model: PreTrainedModel,
  options: { composed: boolean; numItemsInBatch?: number },
): { loss: number; grads: Map<string, Tensor>; chunked: boolean } {
  model.zeroGrad();
  manualSeed(11); // GPT-2 and T5 drop out by default: the same masks in every call
  // A forward hook on lm_head must see the call: the model falls back to the loss on the logits.
  const hook = options.composed ? model.getSubmodule('lm_head').registerForwardHook(() => undefined) : null;
  const output = model.forward({
    inputIds,
    labels,
    numItemsInBatch: options.numItemsInBatch,
    ...(model.isEncoderDecoder ? { decoderInputIds } : {}),
  });
  hook?.remove();
  const loss = output.loss!;
  const path = chunked(loss);
  loss.backward();
  const grads = new Map(model.namedParameters().map(([name, p]) => [name, p.grad!] as const));
  return { loss: loss.item(), grads, chunked: path };
}

function worstRelative(a: Tensor, b: Tensor): number {
  const x = a.float().toArray() as Float32Array;
  const y = b.float().toArray() as Float32Array;
  let scale = 1e-6;
  for (const v of y) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / scale);
  return worst;
}

describe('a labelled call takes the loss in chunks, equal to the loss on the logits', () => {
  for (const family of Object.keys(FAMILIES)) {
    for (const numItemsInBatch of [undefined, 7]) {
      it(`${family}${numItemsInBatch ? ', numItemsInBatch' : ''}: loss and every parameter's gradient`, () => {
        const model = build(family);
        const reference = step(model, { composed: true, numItemsInBatch });
        expect(reference.chunked).toBe(false);
        for (const rows of [undefined, 1, 5]) {
          (model as unknown as { lossChunkRows: number | undefined }).lossChunkRows = rows;
          const ours = step(model, { composed: false, numItemsInBatch });
          expect(ours.chunked, `chunkRows ${rows}`).toBe(true);
          expect(Math.abs(ours.loss - reference.loss), `chunkRows ${rows}`).toBeLessThan(
            1e-6 * reference.loss,
          );
          expect([...ours.grads.keys()]).toEqual([...reference.grads.keys()]);
          for (const [name, grad] of ours.grads) {
            expect(
              worstRelative(grad, reference.grads.get(name)!),
              `${name}, chunkRows ${rows}`,
            ).toBeLessThan(1e-5);
          }
        }
      });
    }
  }

  it("equals nn's causalLmLoss on the logits of an unlabelled call", () => {
    const model = build('gemma2');
    const logits = noGrad(() => model.forward({ inputIds }).logits);
    const expected = causalLmLoss(logits, labels).item();
    const loss = noGrad(() => model.forward({ inputIds, labels }).loss!.item());
    expect(Math.abs(loss - expected)).toBeLessThan(1e-6 * expected);
  });

  it('bfloat16 weights: the loss in float32, within bfloat16 rounding of the loss on the logits', () => {
    const model = build('llama', 'bfloat16');
    const reference = step(model, { composed: true });
    const ours = step(model, { composed: false });
    expect(ours.chunked).toBe(true);
    expect(Math.abs(ours.loss - reference.loss)).toBeLessThan(1e-3 * reference.loss);
    for (const [name, grad] of ours.grads) {
      expect(grad.dtype).toBe('bfloat16');
      expect(worstRelative(grad, reference.grads.get(name)!), name).toBeLessThan(2e-2);
    }
  });
});

describe('the logits of a labelled call', () => {
  it('are computed on first read: the same values, recorded as the call was', () => {
    const model = build('gptj');
    const expected = noGrad(() => model.forward({ inputIds }).logits);
    const output = model.forward({ inputIds, labels });
    expect(worstRelative(output.logits, expected)).toBe(0);
    expect(output.logits).toBe(output.logits);
    expect(output.logits.requiresGrad).toBe(true);
    const quiet = noGrad(() => model.forward({ inputIds, labels }));
    expect(quiet.logits.requiresGrad).toBe(false);
    expect(quiet.loss!.requiresGrad).toBe(false);
    // Read outside the call's noGrad: still not recorded.
    expect(worstRelative(quiet.logits, expected)).toBe(0);
  });

  it('throw when read after lm_head changed in place', () => {
    const model = build('llama');
    const output = model.forward({ inputIds, labels });
    noGrad(() => model.getSubmodule('lm_head').param('weight')!.assign(0));
    expect(() => output.logits).toThrow(
      new ModelError(
        "[LlamaForCausalLM] logits were read after lm_head's weights changed in place (e.g. an optimizer step); the loss of a labelled call does not make them, so read output.logits before updating the weights",
      ),
    );
  });

  it('a subclass with its own finalLogits keeps the loss on the logits', () => {
    class Scaled extends Gemma2ForCausalLM {
      protected override finalLogits(logits: Tensor): Tensor {
        return logits.mul(3);
      }
    }
    manualSeed(3);
    const model = new Scaled(parseConfig(FAMILIES.gemma2!) as Gemma2Config);
    const output = model.forward({ inputIds, labels });
    expect(chunked(output.loss!)).toBe(false);
    expect(output.loss!.item()).toBeCloseTo(causalLmLoss(output.logits, labels).item(), 6);
  });
});

describe('labelled call errors', () => {
  const model = build('llama');
  const t5 = build('t5');
  it.each([
    [
      () => model.forward({ inputIds, labels: labels.narrow(1, 0, 5) }),
      "[LlamaForCausalLM] labels must be [2, 6] (one per position of the LM head's input), received [2, 5]",
    ],
    [
      () => model.forward({ inputIds, labels: labels.float() }),
      '[LlamaForCausalLM] labels must hold token ids (int64 or int32), received float32',
    ],
    [
      () => model.forward({ inputIds, labels, numItemsInBatch: 0 }),
      '[LlamaForCausalLM] numItemsInBatch must be a positive number, received 0',
    ],
    [
      () => t5.forward({ inputIds, decoderInputIds, labels: labels.narrow(1, 0, 4) }),
      "[T5ForConditionalGeneration] labels must be [2, 6] (one per position of the LM head's input), received [2, 4]",
    ],
    [
      () =>
        model.forward({
          inputIds,
          labels: ids([
            [1, 2, 3, 4, 5, 37],
            [1, 1, 1, 1, 1, 1],
          ]),
        }),
      '[linearCrossEntropy] target 37 is out of range for 37 classes (ignore_index is -100)',
    ],
  ] as const)('%#: the message', (run, message) => {
    expect(run).toThrow(message);
  });
  it('are ModelErrors', () => {
    expect(() => model.forward({ inputIds, labels: labels.float() })).toThrow(ModelError);
  });
});
