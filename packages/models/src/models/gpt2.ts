import { ACTIVATIONS, Conv1D, Dropout, Embedding, LayerNorm, Module, ModuleList } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias } from '../attention/masks.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { Gpt2Config } from '../config/gpt2-config.js';
import type { KVCache } from '../kv-cache.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { DecoderForCausalLM } from './causal-lm.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';

interface Gpt2Context {
  readonly mask: AttentionBias;
  readonly cache?: KVCache | undefined;
}

/** Causal self-attention with the fused q/k/v projection `c_attn` (a GPT-2 Conv1D, weight [in, out]). */
export class GPT2Attention extends Module<[Tensor, Gpt2Context], Tensor> {
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;

  constructor(
    config: Gpt2Config,
    readonly layerIndex: number,
  ) {
    super();
    const embed = config.hiddenSize;
    this.numHeads = config.numAttentionHeads;
    this.headDim = embed / this.numHeads;
    let scale = config.scaleAttnWeights ? this.headDim ** -0.5 : 1;
    if (config.scaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
    this.scale = scale;
    this.registerModule('c_attn', new Conv1D(3 * embed, embed, { init: false }));
    this.registerModule('c_proj', new Conv1D(embed, embed, { init: false }));
    this.registerModule('attn_dropout', new Dropout(config.attnPdrop));
    this.registerModule('resid_dropout', new Dropout(config.residPdrop));
  }

  forward(hidden: Tensor, context: Gpt2Context): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    // [B, T, 3E] → [B, T, 3, H, D]: q, k, v are views, no copy.
    const qkv = this.child('c_attn').call(hidden).reshape(batch, length, 3, this.numHeads, this.headDim);
    const q = qkv.select(2, 0).transpose(1, 2);
    let k = qkv.select(2, 1).transpose(1, 2);
    let v = qkv.select(2, 2).transpose(1, 2);
    if (context.cache) ({ keys: k, values: v } = context.cache.update(this.layerIndex, k, v));
    const dropout = this.child<Dropout>('attn_dropout');
    const out = scaledDotProductAttention(q, k, v, {
      mask: context.mask,
      scale: this.scale,
      dropout: dropout.p,
      training: dropout.training,
    });
    const projected = this.child('c_proj').call(out.transpose(1, 2).reshape(batch, length, -1));
    return this.child('resid_dropout').call(projected);
  }
}

export class GPT2MLP extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: Gpt2Config) {
    super();
    this.registerModule('c_fc', new Conv1D(config.intermediateSize, config.hiddenSize, { init: false }));
    this.registerModule('c_proj', new Conv1D(config.hiddenSize, config.intermediateSize, { init: false }));
    this.registerModule('dropout', new Dropout(config.residPdrop));
    this.activation = ACTIVATIONS[config.activationFunction];
  }
  forward(x: Tensor): Tensor {
    const h = this.activation(this.child('c_fc').call(x));
    return this.child('dropout').call(this.child('c_proj').call(h));
  }
}

export class GPT2Block extends Module<[Tensor, Gpt2Context], Tensor> {
  constructor(config: Gpt2Config, layerIndex: number) {
    super();
    this.registerModule('ln_1', new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('attn', new GPT2Attention(config, layerIndex));
    this.registerModule('ln_2', new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('mlp', new GPT2MLP(config));
  }
  forward(hidden: Tensor, context: Gpt2Context): Tensor {
    const h = hidden.add(this.child('attn').call(this.child('ln_1').call(hidden), context));
    return h.add(this.child('mlp').call(this.child('ln_2').call(h)));
  }
}

/** Token + position embeddings, blocks `h.N`, final `ln_f`. Its output `logits` is the last hidden state. */
export class GPT2Model extends PreTrainedModel<Gpt2Config> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  readonly architecture = 'GPT2Model';
  readonly basePrefix = '';

  constructor(config: Gpt2Config) {
    super(config);
    this.registerModule('wte', new Embedding(config.vocabSize, config.hiddenSize, { init: false }));
    this.registerModule(
      'wpe',
      new Embedding(config.maxPositionEmbeddings, config.hiddenSize, { init: false }),
    );
    this.registerModule('drop', new Dropout(config.embdPdrop));
    this.registerModule(
      'h',
      new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new GPT2Block(config, i))),
    );
    this.registerModule('ln_f', new LayerNorm(config.hiddenSize, config.layerNormEpsilon));
  }

  getInputEmbeddings(): string {
    return 'wte';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return GPT2_IGNORED;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { inputIds, cache } = inputs;
    const [, length] = checkInputIds(inputIds);
    const past = cache?.length ?? 0;
    const backend = inputIds.backend.name;
    const positionIds = inputs.positionIds ?? defaultPositionIds(past, length, backend);
    let hidden = this.child('wte').call(inputIds).add(this.child('wpe').call(positionIds));
    // transformers adds token-type embeddings from the token table when given.
    if (inputs.tokenTypeIds) hidden = hidden.add(this.child('wte').call(inputs.tokenTypeIds));
    hidden = this.child('drop').call(hidden);
    const mask = causalAttentionBias({
      queryLength: length,
      pastLength: past,
      attentionMask: inputs.attentionMask,
      backend,
    });
    const context: Gpt2Context = { mask, cache };
    for (const block of this.child<ModuleList>('h'))
      hidden = callLayer(this, this.architecture, block, hidden, context, cache);
    hidden = this.child('ln_f').call(hidden);
    return { logits: hidden, lastHiddenState: hidden, ...(cache ? { cache } : {}) };
  }
}

// Old checkpoints stored the causal-mask buffers; transformers ignores them too.
const GPT2_IGNORED = [
  /(^|\.)attn\.bias$/,
  /(^|\.)attn\.masked_bias$/,
  /(^|\.)crossattention\.(masked_)?bias$/,
];

/** GPT-2 with `lm_head` tied to `transformer.wte` (the default `tie_word_embeddings: true`). */
export class GPT2LMHeadModel extends DecoderForCausalLM<Gpt2Config> {
  readonly architecture = 'GPT2LMHeadModel';

  constructor(config: Gpt2Config) {
    super(config, 'transformer', new GPT2Model(config));
  }
}
