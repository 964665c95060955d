import { ACTIVATIONS, Embedding, Linear, Module, ModuleList, Parameter } from '@lorakit/nn';
import { rmsNorm, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias } from '../attention/masks.js';
import { applyRotary, rotaryCosSin } from '../attention/rotary.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { Gemma2Config } from '../config/gemma2-config.js';
import type { AttentionLayerType } from '../config/llama-config.js';
import { ropeInverseFrequencies } from '../config/rope.js';
import type { KVCache } from '../kv-cache.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { DecoderForCausalLM } from './causal-lm.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';
import { DecoderForSequenceClassification } from './sequence-classification.js';

interface Gemma2Context {
  readonly cos: Tensor;
  readonly sin: Tensor;
  readonly masks: Readonly<Record<AttentionLayerType, AttentionBias>>;
  readonly cache?: KVCache | undefined;
}

/** Gemma's RMSNorm: x / rms(x) · (1 + weight), the weight stored as an offset from 1 (zeros at init). */
export class GemmaRMSNorm extends Module {
  constructor(
    readonly hiddenSize: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.registerParameter('weight', new Parameter(zeros([hiddenSize])));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.param('weight')!.add(1), this.eps);
  }
}

/** down_proj(act(gate_proj(x)) · up_proj(x)) with tanh GELU by default (GeGLU). */
export class Gemma2MLP extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: Gemma2Config) {
    super();
    const options = { bias: false, init: false };
    this.registerModule('gate_proj', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('up_proj', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('down_proj', new Linear(config.intermediateSize, config.hiddenSize, options));
    this.activation = ACTIVATIONS[config.hiddenActivation];
  }
  forward(x: Tensor): Tensor {
    const gate = this.activation(this.child('gate_proj').call(x));
    return this.child('down_proj').call(gate.mul(this.child('up_proj').call(x)));
  }
}

/** Grouped-query attention scaled by query_pre_attn_scalar^-0.5 with soft-capped scores. */
export class Gemma2Attention extends Module<[Tensor, Gemma2Context], Tensor> {
  readonly numHeads: number;
  readonly headDim: number;
  readonly layerType: AttentionLayerType;

  constructor(
    readonly config: Gemma2Config,
    readonly layerIndex: number,
  ) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.headDim = config.headDim;
    this.layerType = config.layerTypes[layerIndex]!;
    const options = { bias: config.attentionBias, init: false };
    const hidden = config.hiddenSize;
    const kv = config.numKeyValueHeads * this.headDim;
    this.registerModule('q_proj', new Linear(hidden, this.numHeads * this.headDim, options));
    this.registerModule('k_proj', new Linear(hidden, kv, options));
    this.registerModule('v_proj', new Linear(hidden, kv, options));
    this.registerModule('o_proj', new Linear(this.numHeads * this.headDim, hidden, options));
  }

  forward(hidden: Tensor, context: Gemma2Context): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const heads = (x: Tensor) => x.reshape(batch, length, -1, this.headDim).transpose(1, 2);
    const q = applyRotary(heads(this.child('q_proj').call(hidden)), context.cos, context.sin);
    let k = applyRotary(heads(this.child('k_proj').call(hidden)), context.cos, context.sin);
    let v = heads(this.child('v_proj').call(hidden));
    if (context.cache) ({ keys: k, values: v } = context.cache.update(this.layerIndex, k, v));
    const out = scaledDotProductAttention(q, k, v, {
      mask: context.masks[this.layerType],
      scale: this.config.queryPreAttnScalar ** -0.5,
      softcap: this.config.attnLogitSoftcapping,
      dropout: this.config.attentionDropout,
      training: this.training,
    });
    return this.child('o_proj').call(out.transpose(1, 2).reshape(batch, length, -1));
  }
}

/** Norms before and after both the attention and the MLP ("sandwich" norms). */
export class Gemma2DecoderLayer extends Module<[Tensor, Gemma2Context], Tensor> {
  constructor(config: Gemma2Config, layerIndex: number) {
    super();
    this.registerModule('self_attn', new Gemma2Attention(config, layerIndex));
    this.registerModule('mlp', new Gemma2MLP(config));
    for (const name of [
      'input_layernorm',
      'post_attention_layernorm',
      'pre_feedforward_layernorm',
      'post_feedforward_layernorm',
    ]) {
      this.registerModule(name, new GemmaRMSNorm(config.hiddenSize, config.rmsNormEps));
    }
  }
  forward(hidden: Tensor, context: Gemma2Context): Tensor {
    const attended = this.child('self_attn').call(this.child('input_layernorm').call(hidden), context);
    const h = hidden.add(this.child('post_attention_layernorm').call(attended));
    const mlp = this.child('mlp').call(this.child('pre_feedforward_layernorm').call(h));
    return h.add(this.child('post_feedforward_layernorm').call(mlp));
  }
}

/** The heads-free decoder; embeddings are scaled by √hidden rounded to the embedding dtype. */
export class Gemma2Model extends PreTrainedModel<Gemma2Config> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  readonly architecture = 'Gemma2Model';
  readonly basePrefix = '';

  constructor(config: Gemma2Config) {
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
        Array.from({ length: config.numHiddenLayers }, (_, i) => new Gemma2DecoderLayer(config, i)),
      ),
    );
    this.registerModule('norm', new GemmaRMSNorm(config.hiddenSize, config.rmsNormEps));
    this.registerBuffer('inv_freq', tensor(ropeInverseFrequencies(config.rope, config.headDim)), false);
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
    const { cos, sin } = rotaryCosSin(this.buffer('inv_freq')!, positionIds);
    const maskOptions = {
      queryLength: length,
      pastLength: past,
      attentionMask: inputs.attentionMask,
      backend,
    };
    const context: Gemma2Context = {
      cos,
      sin,
      masks: {
        full_attention: causalAttentionBias(maskOptions),
        sliding_attention: causalAttentionBias({ ...maskOptions, slidingWindow: this.config.slidingWindow }),
      },
      cache,
    };
    const embeddings: Tensor = this.child('embed_tokens').call(inputIds);
    // transformers multiplies by √hidden as a tensor of the hidden states' dtype (rounded: bf16 differs).
    const normalizer = tensor([Math.sqrt(this.config.hiddenSize)], { backend }).cast(embeddings.dtype);
    let hidden = embeddings.mul(normalizer);
    for (const layer of this.child<ModuleList>('layers'))
      hidden = callLayer(this, this.architecture, layer, hidden, context, cache);
    hidden = this.child('norm').call(hidden);
    return { logits: hidden, lastHiddenState: hidden, ...(cache ? { cache } : {}) };
  }
}

/** Gemma 2 with `lm_head` (tied by default) and soft-capped final logits. */
export class Gemma2ForCausalLM extends DecoderForCausalLM<Gemma2Config> {
  readonly architecture = 'Gemma2ForCausalLM';
  constructor(config: Gemma2Config) {
    super(config, 'model', new Gemma2Model(config));
  }
  protected override get finalLogitSoftcapping(): number | null {
    return this.config.finalLogitSoftcapping;
  }
}

export class Gemma2ForSequenceClassification extends DecoderForSequenceClassification<Gemma2Config> {
  readonly architecture = 'Gemma2ForSequenceClassification';
  constructor(config: Gemma2Config) {
    super(config, 'model', new Gemma2Model(config));
  }
}
