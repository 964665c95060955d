import {
  ACTIVATIONS,
  type AnyModule,
  Dropout,
  Embedding,
  Linear,
  Module,
  ModuleList,
  RMSNorm,
} from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import type { AttentionBias } from '../../attention/masks.js';
import { relativePositionBuckets } from '../../attention/relative-position.js';
import { scaledDotProductAttention } from '../../attention/sdpa.js';
import type { T5Config } from '../../config/t5-config.js';
import { EncoderDecoderCache, type KVCache } from '../../kv-cache.js';

/** What every block of one stack forward shares. */
export interface T5Context {
  /** Self-attention: relative position bias [1, H, q, k] plus the causal/padding mask. */
  readonly selfBias: AttentionBias;
  /** Cross-attention: the encoder's padding mask (no position bias). */
  readonly crossBias?: AttentionBias | undefined;
  readonly encoderHiddenStates?: Tensor | undefined;
  readonly cache?: KVCache | undefined;
}

/**
 * T5 attention: no bias on q/k/v/o, no 1/√d scaling (folded into the init), inner size heads × d_kv.
 * The first self-attention of each stack owns `relative_attention_bias` (buckets × heads).
 */
export class T5Attention extends Module<
  [Tensor, AttentionBias, Tensor | undefined, KVCache | undefined],
  Tensor
> {
  readonly numHeads: number;
  readonly headDim: number;

  constructor(
    readonly config: T5Config,
    readonly layerIndex: number,
    readonly isDecoder: boolean,
    hasRelativeAttentionBias: boolean,
  ) {
    super();
    this.numHeads = config.numAttentionHeads;
    this.headDim = config.headDim;
    const inner = this.numHeads * this.headDim;
    const options = { bias: false, init: false };
    this.registerModule('q', new Linear(config.hiddenSize, inner, options));
    this.registerModule('k', new Linear(config.hiddenSize, inner, options));
    this.registerModule('v', new Linear(config.hiddenSize, inner, options));
    this.registerModule('o', new Linear(inner, config.hiddenSize, options));
    if (hasRelativeAttentionBias) {
      this.registerModule(
        'relative_attention_bias',
        new Embedding(config.relativeAttentionNumBuckets, this.numHeads, { init: false }),
      );
    }
  }

  /** The learned bias of each (query, key) distance, [1, heads, queries, keys]. */
  computeBias(queryLength: number, keyLength: number, pastLength: number, backend: string): Tensor {
    const buckets = relativePositionBuckets({
      queryLength,
      keyLength,
      pastLength,
      bidirectional: !this.isDecoder,
      numBuckets: this.config.relativeAttentionNumBuckets,
      maxDistance: this.config.relativeAttentionMaxDistance,
      backend,
    });
    return this.child('relative_attention_bias').call(buckets).permute(2, 0, 1).unsqueeze(0);
  }

  /** `keyValueStates`: the encoder output for cross-attention (keys/values cached once per cache). */
  forward(hidden: Tensor, bias: AttentionBias, keyValueStates?: Tensor, cache?: KVCache): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const heads = (x: Tensor) => x.reshape(x.shape[0]!, x.shape[1]!, -1, this.headDim).transpose(1, 2);
    const q = heads(this.child('q').call(hidden));
    let k: Tensor;
    let v: Tensor;
    const cross = keyValueStates !== undefined;
    const crossCache = cross && cache instanceof EncoderDecoderCache ? cache.crossAttention : undefined;
    if (crossCache && crossCache.layers > this.layerIndex) {
      ({ keys: k, values: v } = crossCache.get(this.layerIndex));
    } else {
      const source = keyValueStates ?? hidden;
      k = heads(this.child('k').call(source));
      v = heads(this.child('v').call(source));
      if (crossCache) crossCache.update(this.layerIndex, k, v);
      else if (!cross && cache) ({ keys: k, values: v } = cache.update(this.layerIndex, k, v));
    }
    const out = scaledDotProductAttention(q, k, v, {
      mask: bias,
      scale: 1,
      dropout: this.config.dropoutRate,
      training: this.training,
    });
    return this.child('o').call(out.transpose(1, 2).reshape(batch, length, -1));
  }
}

/** Pre-norm residual around self-attention (`layer.0`). */
export class T5LayerSelfAttention extends Module<[Tensor, T5Context], Tensor> {
  constructor(config: T5Config, layerIndex: number, isDecoder: boolean) {
    super();
    this.registerModule('SelfAttention', new T5Attention(config, layerIndex, isDecoder, layerIndex === 0));
    this.registerModule('layer_norm', new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
  }
  forward(hidden: Tensor, context: T5Context): Tensor {
    const normed = this.child('layer_norm').call(hidden);
    const attended = this.child('SelfAttention').call(normed, context.selfBias, undefined, context.cache);
    return hidden.add(this.child('dropout').call(attended));
  }
}

/** Pre-norm residual around attention over the encoder output (decoder `layer.1`). */
export class T5LayerCrossAttention extends Module<[Tensor, T5Context], Tensor> {
  constructor(config: T5Config, layerIndex: number) {
    super();
    this.registerModule('EncDecAttention', new T5Attention(config, layerIndex, true, false));
    this.registerModule('layer_norm', new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
  }
  forward(hidden: Tensor, context: T5Context): Tensor {
    const normed = this.child('layer_norm').call(hidden);
    const attended = this.child('EncDecAttention').call(
      normed,
      context.crossBias ?? { bias: null, rowScale: null },
      context.encoderHiddenStates,
      context.cache,
    );
    return hidden.add(this.child('dropout').call(attended));
  }
}

/** wo(dropout(act(wi(x)))) — original T5's ReLU feed-forward. */
export class T5DenseActDense extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: T5Config) {
    super();
    const options = { bias: false, init: false };
    this.registerModule('wi', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('wo', new Linear(config.intermediateSize, config.hiddenSize, options));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
    this.activation = ACTIVATIONS[config.denseActFn];
  }
  forward(x: Tensor): Tensor {
    const h = this.child('dropout').call(this.activation(this.child('wi').call(x)));
    return this.child('wo').call(h);
  }
}

/** wo(dropout(act(wi_0(x)) · wi_1(x))) — T5 v1.1's gated GELU feed-forward. */
export class T5DenseGatedActDense extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: T5Config) {
    super();
    const options = { bias: false, init: false };
    this.registerModule('wi_0', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('wi_1', new Linear(config.hiddenSize, config.intermediateSize, options));
    this.registerModule('wo', new Linear(config.intermediateSize, config.hiddenSize, options));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
    this.activation = ACTIVATIONS[config.denseActFn];
  }
  forward(x: Tensor): Tensor {
    const gated = this.activation(this.child('wi_0').call(x)).mul(this.child('wi_1').call(x));
    return this.child('wo').call(this.child('dropout').call(gated));
  }
}

/** Pre-norm residual around the feed-forward (the last layer of each block). */
export class T5LayerFF extends Module {
  constructor(config: T5Config) {
    super();
    this.registerModule(
      'DenseReluDense',
      config.isGatedAct ? new T5DenseGatedActDense(config) : new T5DenseActDense(config),
    );
    this.registerModule('layer_norm', new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
  }
  forward(hidden: Tensor): Tensor {
    const forwarded = this.child('DenseReluDense').call(this.child('layer_norm').call(hidden));
    return hidden.add(this.child('dropout').call(forwarded));
  }
}

/** `layer`: [self-attention, (cross-attention in the decoder), feed-forward]. */
export class T5Block extends Module<[Tensor, T5Context], Tensor> {
  constructor(config: T5Config, layerIndex: number, isDecoder: boolean) {
    super();
    const layers: AnyModule[] = [new T5LayerSelfAttention(config, layerIndex, isDecoder)];
    if (isDecoder) layers.push(new T5LayerCrossAttention(config, layerIndex));
    layers.push(new T5LayerFF(config));
    this.registerModule('layer', new ModuleList(layers));
  }
  forward(hidden: Tensor, context: T5Context): Tensor {
    const layers = [...this.child<ModuleList>('layer')];
    let h = layers[0]!.call(hidden, context) as Tensor;
    if (layers.length === 3 && context.encoderHiddenStates) h = layers[1]!.call(h, context) as Tensor;
    return layers.at(-1)!.call(h) as Tensor;
  }
}
