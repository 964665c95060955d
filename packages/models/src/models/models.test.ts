import { join } from 'node:path';
import { Linear } from '@lorakit/nn';
import { Generator, manualSeed, noGrad, randn, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { readTensors, testDataDir } from '../../test/helpers.js';
import { createModel, loadModel } from '../index.js';
import type { LlamaMLP } from './llama.js';

const tiny = {
  vocab_size: 32,
  n_embd: 16,
  n_layer: 1,
  n_head: 2,
  n_positions: 16,
};

/** The names of the ops recorded on the way to `t`. */
function recordedOps(t: Tensor): Set<string> {
  const ops = new Set<string>();
  const stack = [t];
  const seen = new Set<Tensor>();
  while (stack.length > 0) {
    const node = stack.pop()!.gradNode;
    if (!node) continue;
    ops.add(node.op);
    for (const input of node.inputs) {
      if (!seen.has(input)) {
        seen.add(input);
        stack.push(input);
      }
    }
  }
  return ops;
}

describe('model behaviour', () => {
  it('GPT-2 dropout modules act only in training mode', () => {
    manualSeed(0);
    const model = createModel({
      model_type: 'gpt2',
      ...tiny,
      resid_pdrop: 0.5,
      embd_pdrop: 0.5,
      attn_pdrop: 0.5,
    });
    const inputIds = tensor([[1, 2, 3, 4]], { dtype: 'int64' });
    const run = () => noGrad(() => model.forward({ inputIds }).logits);
    model.train();
    const a = run();
    const b = run();
    expect(a.sub(b).abs().max().item()).toBeGreaterThan(0);
    model.eval();
    expect(run().sub(run()).abs().max().item()).toBe(0);
  });

  it('BERT: token_type_ids default to zeros; BertModel is usable on its own with the HF names', async () => {
    const model = await loadModel(join(testDataDir, 'bert_seqcls'));
    model.eval();
    const expected = readTensors(join(testDataDir, 'bert_seqcls', 'expected.safetensors'));
    const inputIds = expected.get('input_ids')!;
    const implicit = noGrad(() => model.forward({ inputIds }).logits);
    const explicit = noGrad(() =>
      model.forward({ inputIds, tokenTypeIds: zeros(inputIds.shape, { dtype: 'int64' }) }),
    );
    expect(implicit.sub(explicit.logits).abs().max().item()).toBe(0);
    const base = await loadModel(join(testDataDir, 'bert_seqcls'), {
      architecture: 'BertModel',
      strict: false,
    });
    expect(base.namedModules().map(([n]) => n)).toContain('encoder.layer.0.attention.self.query');
    const out = noGrad(() => base.eval().forward({ inputIds }));
    expect(out.pooledOutput!.shape).toEqual([3, 32]);
  });

  it('sequence classification picks the loss from the labels as transformers does', async () => {
    const model = await loadModel(join(testDataDir, 'bert_seqcls'));
    model.eval();
    const inputIds = tensor([[5, 6, 7]], { dtype: 'int64' });
    const logits = noGrad(() => model.forward({ inputIds }).logits);
    // Float labels with 3 classes: multi-label BCE with logits.
    const targets = tensor([[1, 0, 1]]);
    const multi = noGrad(() => model.forward({ inputIds, labels: targets }).loss!.item());
    const x = Array.from(logits.toArray() as Float32Array);
    const bce = x.map((v, i) => Math.max(v, 0) - v * [1, 0, 1][i]! + Math.log1p(Math.exp(-Math.abs(v))));
    expect(multi).toBeCloseTo(bce.reduce((a, b) => a + b) / 3, 5);
  });

  it('tie_word_embeddings shares the embedding with lm_head; untied models keep two tensors', () => {
    const config = {
      model_type: 'llama',
      vocab_size: 32,
      hidden_size: 16,
      num_attention_heads: 2,
      num_hidden_layers: 1,
    };
    const tied = createModel({ ...config, tie_word_embeddings: true });
    expect(tied.parameterAt('lm_head.weight')).toBe(tied.parameterAt('model.embed_tokens.weight'));
    expect(tied.namedParameters().length).toBe(createModel(config).namedParameters().length - 1);
  });

  it('children are looked up by name at every call, so replacing one changes the forward', () => {
    const model = createModel(
      { model_type: 'llama', vocab_size: 32, hidden_size: 16, num_attention_heads: 2, num_hidden_layers: 1 },
      { generator: new Generator(1) },
    );
    model.eval();
    const inputIds = tensor([[1, 2, 3]], { dtype: 'int64' });
    const before = noGrad(() => model.forward({ inputIds }).logits);
    model.setSubmodule('model.layers.0.self_attn.v_proj', new Linear(16, 16, { bias: false, init: false }));
    const after = noGrad(() => model.forward({ inputIds }).logits);
    expect(after.sub(before).abs().max().item()).toBeGreaterThan(0);
  });

  it('the Llama MLP runs silu (and its alias swish) as one swiglu op, other activations composed', () => {
    const expected: Record<string, (x: Tensor) => Tensor> = {
      silu: (x) => x.silu(),
      swish: (x) => x.silu(),
      gelu: (x) => x.gelu(),
    };
    for (const [hiddenAct, activation] of Object.entries(expected)) {
      const model = createModel(
        {
          model_type: 'llama',
          vocab_size: 32,
          hidden_size: 16,
          intermediate_size: 24,
          num_attention_heads: 2,
          num_hidden_layers: 1,
          hidden_act: hiddenAct,
        },
        { generator: new Generator(3) },
      );
      const mlp = model.getSubmodule<LlamaMLP>('model.layers.0.mlp');
      expect(mlp.usesSwiglu).toBe(hiddenAct !== 'gelu');
      const x = randn([2, 3, 16], { generator: new Generator(4) }).setRequiresGrad();
      const out = mlp.call(x);
      // One swiglu op in the graph instead of silu and mul (whose silu output backward would keep).
      const ops = recordedOps(out);
      expect([ops.has('swiglu'), ops.has('silu')]).toEqual(
        hiddenAct === 'gelu' ? [false, false] : [true, false],
      );
      const [gate, up, down] = ['gate_proj', 'up_proj', 'down_proj'].map((name) => mlp.getSubmodule(name));
      const reference = down!.call(activation(gate!.call(x)).mul(up!.call(x)));
      expect(out.sub(reference).abs().max().item()).toBeLessThan(1e-6);
      const weights = randn([2, 3, 16], { generator: new Generator(5) });
      out.mul(weights).sum().backward();
      const ours = x.grad!;
      x.grad = null;
      reference.mul(weights).sum().backward();
      expect(ours.sub(x.grad!).abs().max().item()).toBeLessThan(1e-5);
    }
  });
});
