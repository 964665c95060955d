import { join } from 'node:path';
import { Generator, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { readTensors, testDataDir } from '../../test/helpers.js';
import { createModel, generate, loadModel } from '../index.js';
import { warpLogits } from './sampling.js';

const ids = (t: import('@lorakit/tensor').Tensor) => t.toList();

describe('generate', () => {
  for (const name of ['llama_gqa', 'mistral', 'gpt2']) {
    it(`${name}: greedy tokens equal transformers' generate(do_sample=False)`, async () => {
      const dir = join(testDataDir, name);
      const expected = readTensors(join(dir, 'expected.safetensors'));
      const model = await loadModel(dir);
      const prompt = expected.get('greedy.prompt')!;
      const want = expected.get('greedy.ids')!;
      const maxNewTokens = want.shape[1]! - prompt.shape[1]!;
      const got = generate(model, prompt, { maxNewTokens });
      expect(ids(got)).toEqual(ids(want));
      // The KV cache is an optimization only: recomputing every prefix gives the same tokens.
      expect(ids(generate(model, prompt, { maxNewTokens, useCache: false }))).toEqual(ids(want));
    });
  }

  it('llama_gqa: a left-padded batch equals transformers (positions from the attention mask)', async () => {
    const dir = join(testDataDir, 'llama_gqa');
    const expected = readTensors(join(dir, 'expected.safetensors'));
    const model = await loadModel(dir);
    const prompt = expected.get('greedy_padded.prompt')!;
    const want = expected.get('greedy_padded.ids')!;
    const options = {
      attentionMask: expected.get('greedy_padded.attention_mask')!,
      maxNewTokens: want.shape[1]! - prompt.shape[1]!,
    };
    expect(ids(generate(model, prompt, options))).toEqual(ids(want));
    expect(ids(generate(model, prompt, { ...options, useCache: false }))).toEqual(ids(want));
  });

  it('cached forward steps give the logits of the full recomputation', async () => {
    const model = await loadModel(join(testDataDir, 'llama_tied_llama3'));
    model.eval();
    const sequence = tensor([[5, 9, 14, 2, 33, 7, 21]], { dtype: 'int64' });
    const full = model.forward({ inputIds: sequence }).logits;
    const { KVCache } = await import('../kv-cache.js');
    const cache = new KVCache();
    model.forward({ inputIds: sequence.narrow(1, 0, 4), cache });
    const step5 = model.forward({ inputIds: sequence.narrow(1, 4, 1), cache }).logits;
    const rest = model.forward({ inputIds: sequence.narrow(1, 5, 2), cache }).logits;
    expect(cache.length).toBe(7);
    const diff = (a: import('@lorakit/tensor').Tensor, b: import('@lorakit/tensor').Tensor) =>
      a.sub(b).abs().max().item();
    expect(diff(step5, full.narrow(1, 4, 1))).toBeLessThan(1e-5);
    expect(diff(rest, full.narrow(1, 5, 2))).toBeLessThan(1e-5);
  });

  it('sampling is reproducible with a seeded Generator and respects top-k', async () => {
    const model = await loadModel(join(testDataDir, 'gpt2'));
    const prompt = tensor([[4, 8, 15]], { dtype: 'int64' });
    const options = {
      doSample: true,
      temperature: 0.8,
      topK: 5,
      topP: 0.9,
      maxNewTokens: 6,
      eosTokenId: null,
    };
    const a = generate(model, prompt, { ...options, generator: new Generator(7) });
    const b = generate(model, prompt, { ...options, generator: new Generator(7) });
    expect(ids(a)).toEqual(ids(b));
    expect(a.shape).toEqual([1, 9]);
    // With top-k 1 sampling is greedy.
    const greedy = generate(model, prompt, { maxNewTokens: 6, eosTokenId: null });
    const topOne = generate(model, prompt, { doSample: true, topK: 1, maxNewTokens: 6, eosTokenId: null });
    expect(ids(topOne)).toEqual(ids(greedy));
  });

  it('stops at eos and pads finished rows', () => {
    const model = createModel({
      model_type: 'llama',
      vocab_size: 16,
      hidden_size: 8,
      intermediate_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
    });
    const prompt = tensor([[3, 4]], { dtype: 'int64' });
    const free = generate(model, prompt, { maxNewTokens: 3, eosTokenId: null }).toList() as number[][];
    const first = free[0]![2]!;
    const stopped = generate(model, prompt, { maxNewTokens: 3, eosTokenId: first });
    expect(stopped.toList()).toEqual([[3, 4, first]]);
  });

  it('warpLogits follows transformers: temperature, top-k, then top-p on the remaining mass', () => {
    const row = Float64Array.from([1, 3, 2, 0, 3]);
    warpLogits(row, { temperature: 1, topK: 3, topP: 1 });
    expect(Array.from(row)).toEqual([Number.NEGATIVE_INFINITY, 3, 2, Number.NEGATIVE_INFINITY, 3]);
    const nucleus = Float64Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
    warpLogits(nucleus, { temperature: 1, topK: 0, topP: 0.75 });
    expect(Array.from(nucleus).map(Number.isFinite)).toEqual([true, true, false, false]);
  });

  it('rejects models that cannot generate and bad options', async () => {
    const bert = await loadModel(join(testDataDir, 'bert_mlm'));
    const prompt = tensor([[1, 2]], { dtype: 'int64' });
    expect(() => generate(bert, prompt)).toThrow(
      '[generate] BertForMaskedLM is not a causal or encoder-decoder language model; generation needs a …ForCausalLM, GPT2LMHeadModel or T5ForConditionalGeneration',
    );
    const gpt2 = await loadModel(join(testDataDir, 'gpt2'));
    expect(() => generate(gpt2, prompt, { doSample: true, temperature: 0 })).toThrow(
      '[generate] temperature must be a positive number, received 0',
    );
    expect(() => generate(gpt2, prompt, { doSample: true, topP: 1.5 })).toThrow(
      '[generate] topP must be in (0, 1], received 1.5',
    );
  });
});
