import { ACTIVATIONS, Dropout, Embedding, Linear, Module, ModuleList, RMSNorm } from '@lorakit/nn';
import { cat, type Tensor, tensor } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias } from '../attention/masks.js';
import { applyRotary, rotaryCosSin } from '../attention/rotary.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { Phi3Config } from '../config/phi3-config.js';
import { longropeInverseFrequencies, ropeInverseFrequencies } from '../config/rope.js';
import type { KVCache } from '../kv-cache.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { DecoderForCausalLM } from './causal-lm.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';
import { DecoderForSequenceClassification } from './sequence-classification.js';

interface Phi3Context {
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly mask: AttentionBias;
  readonly cache?: KVCache | undefined;
}

/** Rotates the first `cos.shape[-1]` dims of x [B, H, T, D] (half-split layout); the rest pass through. */
function rotatePartial(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const rotaryDim = cos.shape.at(-1)!;
  const headDim = x.shape.at(-1)!;
  if (rotaryDim === headDim) return applyRotary(x, cos, sin);
  const rotated = applyRotary(x.narrow(-1, 0, rotaryDim), cos, sin);
  return cat([rotated, x.narrow(-1, rotaryDim, headDim - rotaryDim)], -1);
}

/** Attention with the fused projection `qkv_proj` ([q | k | v] rows) and grouped key/value heads. */
export class Phi3Attention extends Module<[Tensor, Phi3Context], Tensor> {
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly dropoutProbability: number;

  constructor(
    config: Phi3Config,
    readonly layerIndex: number,
  ) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.numKeyValueHeads = config.numKeyValueHeads;
    this.headDim = config.headDim;
    this.dropoutProbability = config.attentionDropout;
    const outputs = (this.numHeads + 2 * this.numKeyValueHeads) * this.headDim;
    this.registerModule(
      'o_proj',
      new Linear(this.numHeads * this.headDim, config.hiddenSize, { bias: false, init: false }),
    );
    this.registerModule('qkv_proj', new Linear(config.hiddenSize, outputs, { bias: false, init: false }));
  }

  forward(hidden: Tensor, context: Phi3Context): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const qkv = this.child('qkv_proj').call(hidden);
    const queryWidth = this.numHeads * this.headDim;
    const keyWidth = this.numKeyValueHeads * this.headDim;
    const heads = (x: Tensor) => x.reshape(batch, length, -1, this.headDim).transpose(1, 2);
    const q = rotatePartial(heads(qkv.narrow(-1, 0, queryWidth)), context.cos, context.sin);
    let k = rotatePartial(heads(qkv.narrow(-1, queryWidth, keyWidth)), context.cos, context.sin);
    let v = heads(qkv.narrow(-1, queryWidth + keyWidth, keyWidth));
    if (context.cache) ({ keys: k, values: v } = context.cache.update(this.layerIndex, k, v));
    const out = scaledDotProductAttention(q, k, v, {
      mask: context.mask,
      scale: this.headDim ** -0.5,
      dropout: this.dropoutProbability,
      training: this.training,
    });
    return this.child('o_proj').call(out.transpose(1, 2).reshape(batch, length, -1));
  }
}

/** down_proj(up · act(gate)) with [gate | up] = gate_up_proj(x), one fused projection. */
export class Phi3MLP extends Module {
  readonly activation: (x: Tensor) => Tensor;
  readonly intermediateSize: number;
  constructor(config: Phi3Config) {
    super();
    this.intermediateSize = config.intermediateSize;
    const options = { bias: false, init: false };
    this.registerModule('gate_up_proj', new Linear(config.hiddenSize, 2 * config.intermediateSize, options));
    this.registerModule('down_proj', new Linear(config.intermediateSize, config.hiddenSize, options));
    this.activation = ACTIVATIONS[config.hiddenAct];
  }
  forward(x: Tensor): Tensor {
    const both = this.child('gate_up_proj').call(x);
    const gate = both.narrow(-1, 0, this.intermediateSize);
    const up = both.narrow(-1, this.intermediateSize, this.intermediateSize);
    return this.child('down_proj').call(up.mul(this.activation(gate)));
  }
}

export class Phi3DecoderLayer extends Module<[Tensor, Phi3Context], Tensor> {
  constructor(config: Phi3Config, layerIndex: number) {
    super();
    this.registerModule('self_attn', new Phi3Attention(config, layerIndex));
    this.registerModule('mlp', new Phi3MLP(config));
    this.registerModule('input_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule('post_attention_layernorm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule('resid_attn_dropout', new Dropout(config.residPdrop));
    this.registerModule('resid_mlp_dropout', new Dropout(config.residPdrop));
  }
  forward(hidden: Tensor, context: Phi3Context): Tensor {
    const attended = this.child('self_attn').call(this.child('input_layernorm').call(hidden), context);
    const h = hidden.add(this.child('resid_attn_dropout').call(attended));
    const mlp = this.child('mlp').call(this.child('post_attention_layernorm').call(h));
    return h.add(this.child('resid_mlp_dropout').call(mlp));
  }
}

/**
 * RoPE over the rotated dims, buffer `inv_freq` as transformers keeps it. LongRoPE switches to the long
 * factors when the largest position reaches the original context (a host read of the positions, only
 * for longrope configs) and scales cos and sin by the attention factor.
 */
export class Phi3RotaryEmbedding extends Module<[Tensor, number | null], { cos: Tensor; sin: Tensor }> {
  readonly longInverseFrequencies: Float32Array | null;
  constructor(readonly config: Phi3Config) {
    super();
    const { rope, rotaryDim } = config;
    this.registerBuffer('inv_freq', tensor(ropeInverseFrequencies(rope, rotaryDim)), false);
    this.longInverseFrequencies =
      rope.type === 'longrope' ? longropeInverseFrequencies(rope, rotaryDim, true) : null;
  }
  /** `defaultLength`: cached + new positions when `positionIds` are the default ones (no read needed). */
  forward(positionIds: Tensor, defaultLength: number | null): { cos: Tensor; sin: Tensor } {
    const { rope } = this.config;
    if (rope.type !== 'longrope') return rotaryCosSin(this.buffer('inv_freq')!, positionIds);
    const sequenceLength = defaultLength ?? Number(positionIds.max().item()) + 1;
    const inverse =
      sequenceLength > rope.originalMaxPositionEmbeddings
        ? tensor(this.longInverseFrequencies!, { backend: positionIds.backend.name })
        : this.buffer('inv_freq')!;
    const { cos, sin } = rotaryCosSin(inverse, positionIds);
    return { cos: cos.mul(rope.attentionFactor), sin: sin.mul(rope.attentionFactor) };
  }
}

/** The heads-free decoder: embeddings, layers, final norm. Its output `logits` is the last hidden state. */
export class Phi3Model extends PreTrainedModel<Phi3Config> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  readonly architecture = 'Phi3Model';
  readonly basePrefix = '';

  constructor(config: Phi3Config) {
    super(config);
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
        Array.from({ length: config.numHiddenLayers }, (_, i) => new Phi3DecoderLayer(config, i)),
      ),
    );
    this.registerModule('norm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerModule('rotary_emb', new Phi3RotaryEmbedding(config));
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
    const { cos, sin } = this.child('rotary_emb').call(
      positionIds,
      inputs.positionIds ? null : past + length,
    );
    const mask = causalAttentionBias({
      queryLength: length,
      pastLength: past,
      attentionMask: inputs.attentionMask,
      slidingWindow: this.config.slidingWindow,
      backend,
    });
    const context: Phi3Context = { cos, sin, mask, cache };
    let hidden: Tensor = this.child('embed_tokens').call(inputIds);
    for (const layer of this.child<ModuleList>('layers'))
      hidden = callLayer(this, this.architecture, layer, hidden, context, cache);
    hidden = this.child('norm').call(hidden);
    return { logits: hidden, lastHiddenState: hidden, ...(cache ? { cache } : {}) };
  }
}

export class Phi3ForCausalLM extends DecoderForCausalLM<Phi3Config> {
  readonly architecture = 'Phi3ForCausalLM';
  constructor(config: Phi3Config) {
    super(config, 'model', new Phi3Model(config));
  }
  /**
   * transformers' Phi-3 drops the cache the first time the sequence grows past the original context, so
   * that every key is recomputed with the long RoPE factors (it does so whatever the rope type).
   */
  override reuseCache(cache: KVCache, totalLength: number): boolean {
    const original = this.config.originalMaxPositionEmbeddings;
    return !(totalLength >= original + 1 && cache.length <= original);
  }
}

export class Phi3ForSequenceClassification extends DecoderForSequenceClassification<Phi3Config> {
  readonly architecture = 'Phi3ForSequenceClassification';
  constructor(config: Phi3Config) {
    super(config, 'model', new Phi3Model(config));
  }
}
