import {
  Generator,
  getBackend,
  manualSeed,
  noGrad,
  registerBackend,
  setDefaultBackend,
  type Tensor,
  tensor,
} from '@lorakit/tensor';
import { createOpaqueBackend } from '@lorakit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { createModel, KVCache, ModelError, type PreTrainedModel } from '../index.js';

// Tiny configs with dropout everywhere a family has it, so the replay of the random state is tested too.
const FAMILIES: Record<string, Record<string, unknown>> = {
  llama: {
    model_type: 'llama',
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 3,
    attention_dropout: 0.2,
  },
  qwen2: {
    model_type: 'qwen2',
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    attention_dropout: 0.2,
  },
  gpt2: {
    model_type: 'gpt2',
    vocab_size: 32,
    n_embd: 16,
    n_layer: 3,
    n_head: 2,
    n_positions: 16,
    resid_pdrop: 0.2,
    embd_pdrop: 0.2,
    attn_pdrop: 0.2,
  },
  gptj: {
    model_type: 'gptj',
    vocab_size: 32,
    n_embd: 16,
    n_layer: 2,
    n_head: 2,
    n_positions: 16,
    rotary_dim: 4,
    resid_pdrop: 0.2,
    attn_pdrop: 0.2,
  },
  gemma2: {
    model_type: 'gemma2',
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    num_hidden_layers: 2,
    query_pre_attn_scalar: 8,
    sliding_window: 2,
    attention_dropout: 0.2,
  },
  phi3: {
    model_type: 'phi3',
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    resid_pdrop: 0.2,
    attention_dropout: 0.2,
    pad_token_id: 0,
  },
  bert: {
    model_type: 'bert',
    architectures: ['BertForMaskedLM'],
    vocab_size: 32,
    hidden_size: 16,
    intermediate_size: 24,
    num_attention_heads: 2,
    num_hidden_layers: 2,
    max_position_embeddings: 16,
    hidden_dropout_prob: 0.2,
    attention_probs_dropout_prob: 0.2,
  },
  t5: {
    model_type: 't5',
    vocab_size: 32,
    d_model: 16,
    d_kv: 8,
    d_ff: 24,
    num_layers: 2,
    num_heads: 2,
    dropout_rate: 0.2,
  },
};

const ids = (rows: number[][]) => tensor(rows, { dtype: 'int64' });
const inputIds = ids([
  [1, 5, 7, 9, 3],
  [2, 4, 6, 8, 10],
]);

/** The loss and every parameter's gradient of one training step, with checkpointing on or off. */
function step(model: PreTrainedModel, checkpointed: boolean): { loss: unknown; grads: [string, unknown][] } {
  model.train();
  if (checkpointed) model.gradientCheckpointingEnable();
  else model.gradientCheckpointingDisable();
  model.zeroGrad();
  manualSeed(17);
  const output = model.forward({
    inputIds,
    attentionMask: ids([
      [1, 1, 1, 1, 1],
      [0, 1, 1, 1, 1],
    ]),
    labels: inputIds,
  });
  output.loss!.backward();
  return {
    loss: output.loss!.toArray(),
    grads: model.namedParameters().map(([name, p]) => [name, p.grad?.toArray()]),
  };
}

/** How many ops of each kind were recorded on the way to `t`. */
function countOp(t: Tensor, op: string): number {
  let count = 0;
  const stack = [t];
  const seen = new Set<Tensor>();
  while (stack.length > 0) {
    const node = stack.pop()!.gradNode;
    if (!node) continue;
    if (node.op === op) count++;
    for (const input of node.inputs) {
      if (!seen.has(input)) {
        seen.add(input);
        stack.push(input);
      }
    }
  }
  return count;
}

describe('gradient checkpointing', () => {
  for (const [family, config] of Object.entries(FAMILIES)) {
    if (family === 't5') continue;
    it(`${family}: loss and every gradient bitwise equal with and without it (dropout on)`, () => {
      const model = createModel(config, { generator: new Generator(3) });
      const plain = step(model, false);
      const recomputed = step(model, true);
      expect(recomputed.loss).toEqual(plain.loss);
      expect(recomputed.grads.every(([, g]) => g !== undefined)).toBe(true);
      expect(recomputed.grads).toEqual(plain.grads);
    });
  }

  it('t5: the decoder bitwise equal; the encoder equal up to the order of one sum', () => {
    // Every decoder block reads the encoder output (cross-attention). Without checkpointing its
    // gradient is one running sum over all their ops; with it, each block's part is summed first and
    // the blocks' parts then, so float32 rounding differs in the last bits for the encoder only.
    const model = createModel(FAMILIES.t5!, { generator: new Generator(3) });
    const plain = step(model, false);
    const recomputed = step(model, true);
    expect(recomputed.loss).toEqual(plain.loss);
    let worst = 0;
    for (const [i, [name, g]] of recomputed.grads.entries()) {
      const want = plain.grads[i]![1] as Float32Array;
      if (!name.startsWith('encoder.') && name !== 'shared.weight') expect(g, name).toEqual(want);
      // Relative to the largest entry of the gradient: rounding differences, not errors.
      const scale = Math.max(...Array.from(want, Math.abs));
      (g as Float32Array).forEach((v, k) => {
        worst = Math.max(worst, Math.abs(v - want[k]!) / scale);
      });
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('runs every layer under checkpoint in training only, and on every stack of the tree', () => {
    const model = createModel(FAMILIES.llama!, { generator: new Generator(3) }).gradientCheckpointingEnable();
    expect([
      model.isGradientCheckpointing,
      model.child<PreTrainedModel>('model').isGradientCheckpointing,
    ]).toEqual([true, true]);
    expect(countOp(model.train().forward({ inputIds }).logits, 'checkpoint')).toBe(3);
    expect(countOp(model.eval().forward({ inputIds }).logits, 'checkpoint')).toBe(0);
    expect(noGrad(() => model.train().forward({ inputIds }).logits).requiresGrad).toBe(false);
    const t5 = createModel(FAMILIES.t5!, { generator: new Generator(3) }).gradientCheckpointingEnable();
    expect(countOp(t5.train().forward({ inputIds, labels: inputIds }).loss!, 'checkpoint')).toBe(4);
    expect(model.gradientCheckpointingDisable().isGradientCheckpointing).toBe(false);
  });

  it('keeps fewer tensors alive during backward (opaque backend)', () => {
    const opaque = createOpaqueBackend('opaque-checkpointing');
    registerBackend(opaque, -1);
    setDefaultBackend('opaque-checkpointing');
    try {
      const model = createModel(
        { ...FAMILIES.llama!, num_hidden_layers: 6 },
        { generator: new Generator(3) },
      );
      const onOpaque = inputIds.toBackend('opaque-checkpointing');
      const peaks = (checkpointed: boolean) => {
        if (checkpointed) model.gradientCheckpointingEnable();
        else model.gradientCheckpointingDisable();
        model.zeroGrad();
        const start = opaque.live();
        const loss = model.train().forward({ inputIds: onOpaque, labels: onOpaque }).loss!;
        const afterForward = opaque.live() - start;
        let peak = 0;
        const backend = getBackend('opaque-checkpointing') as unknown as Record<string, unknown>;
        const originals = Object.entries(backend).filter(([k, v]) => typeof v === 'function' && k !== 'live');
        for (const [key, fn] of originals) {
          backend[key] = (...args: unknown[]) => {
            const out = (fn as (...a: unknown[]) => unknown).apply(opaque, args);
            peak = Math.max(peak, opaque.live() - start);
            return out;
          };
        }
        try {
          loss.backward();
        } finally {
          for (const [key, fn] of originals) backend[key] = fn;
        }
        model.zeroGrad();
        return { afterForward, peak };
      };
      const plain = peaks(false);
      const recomputed = peaks(true);
      expect(recomputed.afterForward).toBeLessThan(plain.afterForward / 2);
      expect(recomputed.peak).toBeLessThan(plain.peak / 2);
    } finally {
      setDefaultBackend(undefined);
    }
  });
});

describe('gradient checkpointing misuse', () => {
  it('refuses to train with a KV cache while checkpointing', () => {
    const model = createModel(FAMILIES.llama!, { generator: new Generator(3) }).gradientCheckpointingEnable();
    expect(() => model.train().forward({ inputIds, cache: new KVCache() })).toThrow(
      new ModelError(
        '[LlamaModel] gradient checkpointing cannot train with a KV cache: each layer runs again in backward and would update the cache twice; pass no cache, or generate in eval() mode or under noGrad',
      ),
    );
    // Generation (eval mode) with a cache is untouched.
    expect(model.eval().forward({ inputIds, cache: new KVCache() }).logits.shape).toEqual([2, 5, 32]);
  });

  it('names a model without a layer stack', () => {
    // A head without its decoder: nothing in the tree runs layers.
    const model = createModel(FAMILIES.llama!);
    model.removeChild('model');
    expect(() => model.gradientCheckpointingEnable()).toThrow(
      new ModelError(
        '[LlamaForCausalLM] has no layer stack that supports gradient checkpointing (a module with a gradientCheckpointing field whose forward runs its layers through callLayer)',
      ),
    );
  });
});
