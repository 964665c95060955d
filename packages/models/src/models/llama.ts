import { ACTIVATIONS, Embedding, Linear, Module, ModuleList, RMSNorm } from '@lorakit/nn';
import { swiglu, type Tensor, tensor } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias } from '../attention/masks.js';
import { applyRotary, rotaryCosSin } from '../attention/rotary.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { AttentionLayerType, LlamaConfig } from '../config/llama-config.js';
import { ropeInverseFrequencies } from '../config/rope.js';
import type { KVCache } from '../kv-cache.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { DecoderForCausalLM } from './causal-lm.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';

/** What every decoder layer of one forward shares. */
export interface DecoderContext {
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly masks: Readonly<Record<AttentionLayerType, AttentionBias>>;
  readonly cache?: KVCache | undefined;
}

/**
 * down_proj(act(gate_proj(x)) · up_proj(x)). With silu (hidden_act "silu" or its alias "swish", the
 * Llama, Mistral and Qwen2 default) the activation and the product are one `swiglu` op: one pass each
 * way on backends with the fused kernels, and no silu(gate) kept for backward.
 */
export class LlamaMLP extends Module {
  readonly activation: (x: Tensor) => Tensor;
  /** Whether the activation is silu, so that `forward` uses the fused {@link swiglu}. */
  readonly usesSwiglu: boolean;
  constructor(config: LlamaConfig) {
    super();
    const options = { bias: config.mlpBias, init: false };
    this.registerModule('gate_proj', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('up_proj', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('down_proj', new Linear(config.intermediateSize, config.hiddenSize, options));
    this.activation = ACTIVATIONS[config.hiddenAct];
    this.usesSwiglu = config.hiddenAct === 'silu' || config.hiddenAct === 'swish';
  }
  forward(x: Tensor): Tensor {
    const gate = this.child('gate_proj').call(x);
    const up = this.child('up_proj').call(x);
    return this.child('down_proj').call(this.usesSwiglu ? swiglu(gate, up) : this.activation(gate).mul(up));
  }
}

/** Multi-head attention with RoPE and grouped key/value heads. */
export class LlamaAttention extends Module<[Tensor, DecoderContext], Tensor> {
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly dropoutProbability: number;
  readonly layerType: AttentionLayerType;

  constructor(
    config: LlamaConfig,
    readonly layerIndex: number,
  ) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.numKeyValueHeads = config.numKeyValueHeads;
    this.headDim = config.headDim;
    this.scale = this.headDim ** -0.5;
    this.dropoutProbability = config.attentionDropout;
    this.layerType = config.layerTypes[layerIndex]!;
    const qkv = { bias: config.qkvBias, init: false };
    const hidden = config.hiddenSize;
    this.registerModule('q_proj', new Linear(hidden, this.numHeads * this.headDim, qkv));
    this.registerModule('k_proj', new Linear(hidden, this.numKeyValueHeads * this.headDim, qkv));
    this.registerModule('v_proj', new Linear(hidden, this.numKeyValueHeads * this.headDim, qkv));
    this.registerModule(
      'o_proj',
      new Linear(this.numHeads * this.headDim, hidden, { bias: config.outputBias, init: false }),
    );
  }

  forward(hidden: Tensor, context: DecoderContext): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const heads = (x: Tensor) => x.reshape(batch, length, -1, this.headDim).transpose(1, 2);
    let q = heads(this.child('q_proj').call(hidden));
    let k = heads(this.child('k_proj').call(hidden));
    let v = heads(this.child('v_proj').call(hidden));
    q = applyRotary(q, context.cos, context.sin);
    k = applyRotary(k, context.cos, context.sin);
    if (context.cache) ({ keys: k, values: v } = context.cache.update(this.layerIndex, k, v));
    const out = scaledDotProductAttention(q, k, v, {
      mask: context.masks[this.layerType],
      scale: this.scale,
      dropout: this.dropoutProbability,
      training: this.training,
    });
    return this.child('o_proj').call(out.transpose(1, 2).reshape(batch, length, -1));
  }
}

export class LlamaDecoderLayer extends Module<[Tensor, DecoderContext], Tensor> {
  constructor(config: LlamaConfig, layerIndex: number) {
    super();
    this.registerModule('self_attn', new LlamaAttention(config, layerIndex));
    this.registerModule('mlp', new LlamaMLP(config));
    this.registerModule('input_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule('post_attention_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
  }
  forward(hidden: Tensor, context: DecoderContext): Tensor {
    const attended = this.child('self_attn').call(this.child('input_layernorm').call(hidden), context);
    const h = hidden.add(attended);
    return h.add(this.child('mlp').call(this.child('post_attention_layernorm').call(h)));
  }
}

/** Holds RoPE's inverse frequencies as a non-persistent buffer `inv_freq`, as transformers does. */
export class LlamaRotaryEmbedding extends Module<[Tensor], { cos: Tensor; sin: Tensor }> {
  constructor(config: LlamaConfig) {
    super();
    this.registerBuffer('inv_freq', tensor(ropeInverseFrequencies(config.rope, config.headDim)), false);
  }
  forward(positionIds: Tensor): { cos: Tensor; sin: Tensor } {
    return rotaryCosSin(this.buffer('inv_freq')!, positionIds);
  }
}

/** The heads-free decoder: embeddings, layers, final norm. Its output `logits` is the last hidden state. */
export class LlamaModel extends PreTrainedModel<LlamaConfig> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  readonly architecture: string;
  readonly basePrefix = '';

  constructor(config: LlamaConfig) {
    super(config);
    this.architecture = `${familyPrefix(config)}Model`;
    this.registerModule(
      'embed_tokens',
      new Embedding(config.vocabSize, config.hiddenSize, {
        init: false,
        paddingIdx: config.padTokenId ?? undefined,
      }),
    );
    this.registerModule(
      'layers',
      new ModuleList(
        Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i)),
      ),
    );
    this.registerModule('norm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule('rotary_emb', new LlamaRotaryEmbedding(config));
  }

  getInputEmbeddings(): string {
    return 'embed_tokens';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return [/(^|\.)rotary_emb\.inv_freq$/];
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { inputIds, cache } = inputs;
    const [, length] = checkInputIds(inputIds);
    const past = cache?.length ?? 0;
    const backend = inputIds.backend.name;
    const positionIds = inputs.positionIds ?? defaultPositionIds(past, length, backend);
    let { cos, sin } = this.child('rotary_emb').call(positionIds);
    const maskOptions = {
      queryLength: length,
      pastLength: past,
      attentionMask: inputs.attentionMask,
      backend,
    };
    const full = causalAttentionBias(maskOptions);
    const sliding = this.config.layerTypes.includes('sliding_attention')
      ? causalAttentionBias({ ...maskOptions, slidingWindow: this.config.slidingWindow })
      : full;
    let hidden: Tensor = this.child('embed_tokens').call(inputIds);
    // Rounded to the model's dtype once for every layer (transformers' `cos.to(x.dtype)`).
    if (cos.dtype !== hidden.dtype) [cos, sin] = [cos.cast(hidden.dtype), sin.cast(hidden.dtype)];
    const context: DecoderContext = {
      cos,
      sin,
      masks: { full_attention: full, sliding_attention: sliding },
      cache,
    };
    for (const layer of this.child<ModuleList>('layers'))
      hidden = callLayer(this, this.architecture, layer, hidden, context, cache);
    hidden = this.child('norm').call(hidden);
    return { logits: hidden, lastHiddenState: hidden, ...(cache ? { cache } : {}) };
  }
}

/** Llama/Mistral/Qwen2 with the LM head `lm_head` (tied to `model.embed_tokens` when configured). */
export class LlamaForCausalLM extends DecoderForCausalLM<LlamaConfig> {
  readonly architecture: string;

  constructor(config: LlamaConfig) {
    super(config, 'model', new LlamaModel(config));
    this.architecture = `${familyPrefix(config)}ForCausalLM`;
  }
}

export function familyPrefix(config: LlamaConfig): string {
  return { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2' }[config.modelType];
}
