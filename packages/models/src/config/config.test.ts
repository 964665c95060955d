import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createModel,
  parseConfig,
  ropeInverseFrequencies,
  supportedArchitectures,
} from '../index.js';
import type { LlamaConfig } from './llama-config.js';

const llama = (extra: Record<string, unknown> = {}) =>
  parseConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, ...extra }) as LlamaConfig;

describe('parseConfig', () => {
  it("applies transformers' defaults", () => {
    const config = llama();
    expect(config).toMatchObject({
      modelType: 'llama',
      vocabSize: 32000,
      numKeyValueHeads: 4,
      headDim: 16,
      hiddenAct: 'silu',
      rmsNormEps: 1e-6,
      rope: { type: 'default', theta: 10000 },
      qkvBias: false,
      tieWordEmbeddings: false,
      bosTokenId: 1,
      eosTokenIds: [2],
      layerTypes: new Array(32).fill('full_attention'),
    });
    const qwen = parseConfig({ model_type: 'qwen2' }) as LlamaConfig;
    expect([qwen.qkvBias, qwen.outputBias, qwen.vocabSize, qwen.slidingWindow]).toEqual([
      true,
      false,
      151936,
      null,
    ]);
    const mistral = parseConfig({ model_type: 'mistral', sliding_window: null }) as LlamaConfig;
    expect(mistral.slidingWindow).toBeNull();
    expect((parseConfig({ model_type: 'mistral' }) as LlamaConfig).slidingWindow).toBe(4096);
    expect(parseConfig({ model_type: 'gpt2', n_embd: 64, n_head: 4 })).toMatchObject({
      intermediateSize: 256,
      hiddenSize: 64,
    });
    expect(parseConfig({ model_type: 'bert', id2label: { 0: 'a', 1: 'b', 2: 'c' } })).toMatchObject({
      numLabels: 3,
      classifierDropout: 0.1,
      padTokenId: 0,
    });
  });

  it('reads RoPE from rope_parameters, rope_scaling or the top-level rope_theta', () => {
    expect(llama({ rope_parameters: { rope_type: 'default', rope_theta: 500000 } }).rope).toEqual({
      type: 'default',
      theta: 500000,
    });
    expect(llama({ rope_theta: 1e6 }).rope).toEqual({ type: 'default', theta: 1e6 });
    expect(llama({ rope_theta: 1e6, rope_scaling: { type: 'linear', factor: 2 } }).rope).toEqual({
      type: 'linear',
      theta: 1e6,
      factor: 2,
    });
    const llama3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 };
    expect(llama({ max_position_embeddings: 4096, rope_scaling: llama3 }).rope).toEqual({
      type: 'llama3',
      theta: 10000,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 4096,
    });
  });

  it('scales llama3 frequencies by wavelength band', () => {
    const base = ropeInverseFrequencies({ type: 'default', theta: 500000 }, 64);
    const scaled = ropeInverseFrequencies(
      {
        type: 'llama3',
        theta: 500000,
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
      64,
    );
    // Short wavelengths (high frequencies) are kept, long ones divided by the factor.
    expect(scaled[0]).toBe(base[0]);
    expect(scaled[31]).toBeCloseTo(base[31]! / 8, 12);
    expect(base[0]).toBe(1);
    expect(base[1]).toBe(Math.fround(1 / Math.fround(500000 ** Math.fround(2 / 64))));
  });

  it('rejects invalid configurations with the field, the rule and the value', () => {
    expect(() =>
      parseConfig({ model_type: 'llama', num_attention_heads: 4, num_key_value_heads: 3 }),
    ).toThrow(
      new ConfigError(
        '[config] llama: num_attention_heads (4) must be a multiple of num_key_value_heads (3)',
      ),
    );
    expect(() => llama({ hidden_size: 30 })).toThrow(
      '[config] llama: hidden_size (30) must be a multiple of num_attention_heads (4) when head_dim is not given',
    );
    expect(() => llama({ vocab_size: -1 })).toThrow(
      '[config] llama: "vocab_size" must be a positive integer, received -1',
    );
    expect(() => llama({ hidden_act: 'swiglu' })).toThrow(
      '[config] llama: "hidden_act" "swiglu" is not supported; supported: relu, gelu, gelu_new, gelu_pytorch_tanh, silu, swish, tanh, sigmoid',
    );
    expect(() => llama({ rope_scaling: { rope_type: 'yarn', factor: 4 } })).toThrow(
      '[config] llama: rope_scaling.rope_type "yarn" is not supported; supported: default, linear, llama3',
    );
    expect(() => llama({ rope_scaling: { rope_type: 'llama3', factor: 8 } })).toThrow(
      '[config] llama: rope_scaling.low_freq_factor must be a finite number (required for this rope_type)',
    );
    expect(() => parseConfig('llama')).toThrow(
      '[config] config.json must hold a JSON object, received "llama"',
    );
    expect(() => parseConfig({ model_type: 'gpt2', add_cross_attention: true })).toThrow(
      '[config] gpt2: add_cross_attention (encoder-decoder GPT-2) is not supported',
    );
  });

  it('builds the architecture config.json names and lists the others', () => {
    expect(supportedArchitectures('bert')).toEqual([
      'BertModel',
      'BertForMaskedLM',
      'BertForSequenceClassification',
    ]);
    const config = {
      model_type: 'llama',
      vocab_size: 16,
      hidden_size: 8,
      num_attention_heads: 2,
      num_hidden_layers: 1,
    };
    expect(createModel({ ...config, architectures: ['LlamaModel'] }).architecture).toBe('LlamaModel');
    expect(() => createModel({ ...config, architectures: ['LlamaForTokenClassification'] })).toThrow(
      '[createModel] architecture "LlamaForTokenClassification" is not supported for model_type "llama"; supported: LlamaForCausalLM, LlamaModel, LlamaForSequenceClassification',
    );
  });
});
