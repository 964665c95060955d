import { ACTIVATIONS, Dropout, Embedding, LayerNorm, Linear, Module, ModuleList } from '@lorakit/nn';
import { cat, type Tensor, tensor } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias } from '../attention/masks.js';
import { applyRotary, rotaryCosSin } from '../attention/rotary.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { GptjConfig } from '../config/gptj-config.js';
import { ropeInverseFrequencies } from '../config/rope.js';
import type { KVCache } from '../kv-cache.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { DecoderForCausalLM } from './causal-lm.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';
import { DecoderForSequenceClassification } from './sequence-classification.js';

interface GptjContext {
  readonly mask: AttentionBias;
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly cache?: KVCache | undefined;
}

/**
 * GPT-J's rotary embedding on the first `rotaryDim` dims of each head, in the interleaved layout:
 * dims (2i, 2i + 1) form pair i (transformers' `rotate_every_two`). Reordering those dims to
 * [evens | odds] turns it into the half-split layout of the fused `rotary` op; queries and keys are
 * reordered alike, so q·kᵀ is unchanged and they stay reordered (the cache too). x: [B, T, H, D] →
 * [B, H, T, D].
 */
function rotateInterleaved(x: Tensor, rotaryDim: number, cos: Tensor, sin: Tensor): Tensor {
  const [batch, length, heads, headDim] = x.shape as [number, number, number, number];
  const paired = x
    .narrow(-1, 0, rotaryDim)
    .reshape(batch, length, heads, rotaryDim / 2, 2)
    .transpose(-1, -2)
    .reshape(batch, length, heads, rotaryDim);
  const rotated = applyRotary(paired.transpose(1, 2), cos, sin);
  if (rotaryDim === headDim) return rotated;
  return cat([rotated, x.narrow(-1, rotaryDim, headDim - rotaryDim).transpose(1, 2)], -1);
}

/** Attention with bias-free q/k/v/out projections and partial interleaved rotary positions. */
export class GPTJAttention extends Module<[Tensor, GptjContext], Tensor> {
  readonly numHeads: number;
  readonly headDim: number;
  readonly rotaryDim: number;

  constructor(
    config: GptjConfig,
    readonly layerIndex: number,
  ) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.headDim = config.headDim;
    this.rotaryDim = config.rotaryDim;
    const hidden = config.hiddenSize;
    for (const name of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      this.registerModule(name, new Linear(hidden, hidden, { bias: false, init: false }));
    }
    this.registerModule('attn_dropout', new Dropout(config.attnPdrop));
    this.registerModule('resid_dropout', new Dropout(config.residPdrop));
  }

  forward(hidden: Tensor, context: GptjContext): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const split = (x: Tensor) => x.reshape(batch, length, this.numHeads, this.headDim);
    const q = rotateInterleaved(
      split(this.child('q_proj').call(hidden)),
      this.rotaryDim,
      context.cos,
      context.sin,
    );
    let k = rotateInterleaved(
      split(this.child('k_proj').call(hidden)),
      this.rotaryDim,
      context.cos,
      context.sin,
    );
    let v = split(this.child('v_proj').call(hidden)).transpose(1, 2);
    if (context.cache) ({ keys: k, values: v } = context.cache.update(this.layerIndex, k, v));
    const dropout = this.child<Dropout>('attn_dropout');
    const out = scaledDotProductAttention(q, k, v, {
      mask: context.mask,
      scale: this.headDim ** -0.5,
      dropout: dropout.p,
      training: dropout.training,
    });
    const projected = this.child('out_proj').call(out.transpose(1, 2).reshape(batch, length, -1));
    return this.child('resid_dropout').call(projected);
  }
}

export class GPTJMLP extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: GptjConfig) {
    super();
    this.registerModule('fc_in', new Linear(config.hiddenSize, config.intermediateSize, { init: false }));
    this.registerModule('fc_out', new Linear(config.intermediateSize, config.hiddenSize, { init: false }));
    this.registerModule('dropout', new Dropout(config.residPdrop));
    this.activation = ACTIVATIONS[config.activationFunction];
  }
  forward(x: Tensor): Tensor {
    const h = this.activation(this.child('fc_in').call(x));
    return this.child('dropout').call(this.child('fc_out').call(h));
  }
}

/** Attention and MLP in parallel on one layer norm: x + attn(ln(x)) + mlp(ln(x)). */
export class GPTJBlock extends Module<[Tensor, GptjContext], Tensor> {
  constructor(config: GptjConfig, layerIndex: number) {
    super();
    this.registerModule('ln_1', new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('attn', new GPTJAttention(config, layerIndex));
    this.registerModule('mlp', new GPTJMLP(config));
  }
  forward(hidden: Tensor, context: GptjContext): Tensor {
    const normed = this.child('ln_1').call(hidden);
    const attended = this.child('attn').call(normed, context);
    return attended.add(this.child('mlp').call(normed)).add(hidden);
  }
}

// Old checkpoints stored the causal-mask buffers; transformers ignores them too.
const GPTJ_IGNORED = [/(^|\.)attn\.bias$/, /(^|\.)attn\.masked_bias$/];

/** Token embeddings `wte`, blocks `h.N`, final `ln_f`. Its output `logits` is the last hidden state. */
export class GPTJModel extends PreTrainedModel<GptjConfig> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  readonly architecture = 'GPTJModel';
  readonly basePrefix = '';
  readonly inverseFrequencies: Float32Array;

  constructor(config: GptjConfig) {
    super(config);
    this.registerModule('wte', new Embedding(config.vocabSize, config.hiddenSize, { init: false }));
    this.registerModule('drop', new Dropout(config.embdPdrop));
    this.registerModule(
      'h',
      new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new GPTJBlock(config, i))),
    );
    this.registerModule('ln_f', new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    // transformers' create_sinusoidal_positions: base 10000 over the rotary dims.
    this.inverseFrequencies = ropeInverseFrequencies({ type: 'default', theta: 10_000 }, config.rotaryDim);
  }

  getInputEmbeddings(): string {
    return 'wte';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return GPTJ_IGNORED;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { inputIds, cache } = inputs;
    const [, length] = checkInputIds(inputIds);
    const past = cache?.length ?? 0;
    const backend = inputIds.backend.name;
    const positionIds = inputs.positionIds ?? defaultPositionIds(past, length, backend);
    const { cos, sin } = rotaryCosSin(tensor(this.inverseFrequencies, { backend }), positionIds);
    let hidden = this.child('wte').call(inputIds);
    if (inputs.tokenTypeIds) hidden = hidden.add(this.child('wte').call(inputs.tokenTypeIds));
    hidden = this.child('drop').call(hidden);
    const mask = causalAttentionBias({
      queryLength: length,
      pastLength: past,
      attentionMask: inputs.attentionMask,
      backend,
    });
    const context: GptjContext = { mask, cos, sin, cache };
    for (const block of this.child<ModuleList>('h'))
      hidden = callLayer(this, this.architecture, block, hidden, context, cache);
    hidden = this.child('ln_f').call(hidden);
    return { logits: hidden, lastHiddenState: hidden, ...(cache ? { cache } : {}) };
  }
}

/** GPT-J with `lm_head`, which has a bias (untied by default). */
export class GPTJForCausalLM extends DecoderForCausalLM<GptjConfig> {
  readonly architecture = 'GPTJForCausalLM';
  constructor(config: GptjConfig) {
    super(config, 'transformer', new GPTJModel(config), { lmHeadBias: true });
  }
}

export class GPTJForSequenceClassification extends DecoderForSequenceClassification<GptjConfig> {
  readonly architecture = 'GPTJForSequenceClassification';
  constructor(config: GptjConfig) {
    super(config, 'transformer', new GPTJModel(config));
  }
}
