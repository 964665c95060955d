import { Dropout, Embedding, Linear, Module, ModuleList, RMSNorm } from '@lorakit/nn';
import { cat, full, type Tensor, where } from '@lorakit/tensor';
import { type AttentionBias, causalAttentionBias, paddingAttentionBias } from '../../attention/masks.js';
import type { T5Config } from '../../config/t5-config.js';
import { ModelError } from '../../errors.js';
import type { KVCache } from '../../kv-cache.js';
import { seq2seqLmLoss } from '../../losses.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../../pretrained-model.js';
import { callLayer } from '../checkpointing.js';
import { checkInputIds } from '../inputs.js';
import { lmHeadOutput } from '../lm-head-output.js';
import { type T5Attention, T5Block, type T5Context } from './t5-layers.js';

export interface T5StackInputs {
  readonly inputIds: Tensor;
  readonly attentionMask?: Tensor | undefined;
  readonly encoderHiddenStates?: Tensor | undefined;
  readonly encoderAttentionMask?: Tensor | undefined;
  readonly cache?: KVCache | undefined;
}

/** Adds a [1, H, q, k] position bias to a mask (either may be absent). */
function withPositionBias(mask: AttentionBias, positionBias: Tensor): AttentionBias {
  return { bias: mask.bias ? positionBias.add(mask.bias) : positionBias, rowScale: mask.rowScale };
}

/**
 * The encoder or the decoder: `embed_tokens` (tied to the model's `shared`), `block.N`,
 * `final_layer_norm`. The relative position bias of block 0 is computed once and used by every block.
 */
export class T5Stack extends Module<[T5StackInputs], Tensor> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  constructor(
    readonly config: T5Config,
    readonly isDecoder: boolean,
  ) {
    super();
    this.registerModule('embed_tokens', new Embedding(config.vocabSize, config.hiddenSize, { init: false }));
    const layers = isDecoder ? config.numDecoderLayers : config.numHiddenLayers;
    this.registerModule(
      'block',
      new ModuleList(Array.from({ length: layers }, (_, i) => new T5Block(config, i, isDecoder))),
    );
    this.registerModule('final_layer_norm', new RMSNorm(config.hiddenSize, config.layerNormEpsilon));
    this.registerModule('dropout', new Dropout(config.dropoutRate));
  }

  forward(inputs: T5StackInputs): Tensor {
    const { inputIds, cache } = inputs;
    const [, length] = checkInputIds(inputIds);
    const backend = inputIds.backend.name;
    const past = this.isDecoder ? (cache?.length ?? 0) : 0;
    const mask = this.isDecoder
      ? causalAttentionBias({
          queryLength: length,
          pastLength: past,
          attentionMask: inputs.attentionMask,
          backend,
        })
      : paddingAttentionBias(inputs.attentionMask, length);
    const first = this.getSubmodule('block.0.layer.0.SelfAttention') as T5Attention;
    const positionBias = first.computeBias(length, past + length, past, backend);
    const encoderLength = inputs.encoderHiddenStates?.shape[1];
    const context: T5Context = {
      selfBias: withPositionBias(mask, positionBias),
      crossBias:
        encoderLength === undefined
          ? undefined
          : paddingAttentionBias(inputs.encoderAttentionMask, encoderLength),
      encoderHiddenStates: inputs.encoderHiddenStates,
      cache: this.isDecoder ? cache : undefined,
    };
    let hidden = this.child('dropout').call(this.child('embed_tokens').call(inputIds));
    for (const block of this.child<ModuleList>('block'))
      hidden = callLayer(this, 'T5Stack', block, hidden, context, context.cache);
    return this.child('dropout').call(this.child('final_layer_norm').call(hidden));
  }
}

const T5_IGNORED = [/(^|\.)decoder\.block\.0\.layer\.1\.EncDecAttention\.relative_attention_bias\.weight$/];

/** transformers' `_shift_right`: the decoder start token, then labels[:, :-1], with -100 as padding. */
export function shiftRight(labels: Tensor, decoderStartTokenId: number, padTokenId: number): Tensor {
  const [batch, length] = labels.shape as [number, number];
  const backend = labels.backend.name;
  const start = full([batch, 1], decoderStartTokenId, { dtype: 'int64', backend });
  const shifted = cat([start, labels.cast('int64').narrow(1, 0, length - 1)], 1);
  return where(shifted.eq(-100), padTokenId, shifted).cast('int64');
}

/** `shared` embedding, `encoder`, `decoder` and `lm_head`; the embeddings and lm_head are one tensor. */
export class T5ForConditionalGeneration extends PreTrainedModel<T5Config> {
  readonly architecture = 'T5ForConditionalGeneration';
  readonly basePrefix = '';
  /** Rows of logits the chunked loss makes at a time (undefined: linearCrossEntropy's default). */
  lossChunkRows: number | undefined = undefined;

  constructor(config: T5Config) {
    super(config);
    this.registerModule('shared', new Embedding(config.vocabSize, config.hiddenSize, { init: false }));
    this.registerModule('encoder', new T5Stack(config, false));
    this.registerModule('decoder', new T5Stack(config, true));
    this.registerModule(
      'lm_head',
      new Linear(config.hiddenSize, config.vocabSize, { bias: false, init: false }),
    );
    this.tieWeights();
  }

  getInputEmbeddings(): string {
    return 'shared';
  }
  getOutputEmbeddings(): string {
    return 'lm_head';
  }
  override get canGenerate(): boolean {
    return true;
  }
  override get isEncoderDecoder(): boolean {
    return true;
  }
  protected override declaredTies(): readonly (readonly [string, string])[] {
    return [
      ['encoder.embed_tokens.weight', 'shared.weight'],
      ['decoder.embed_tokens.weight', 'shared.weight'],
      ['lm_head.weight', 'shared.weight'],
    ];
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return T5_IGNORED;
  }

  /** Runs the encoder alone: its last hidden state [batch, source, d_model] (generation reuses it). */
  encode(inputIds: Tensor, attentionMask?: Tensor): Tensor {
    return this.child<T5Stack>('encoder').call({ inputIds, attentionMask });
  }

  forward(inputs: ModelInputs): ModelOutput {
    const encoderOutput = inputs.encoderOutput ?? this.encode(inputs.inputIds, inputs.attentionMask);
    const { labels } = inputs;
    let decoderInputIds = inputs.decoderInputIds;
    if (!decoderInputIds) {
      if (!labels) {
        throw new ModelError(
          `[${this.architecture}] forward needs decoderInputIds or labels (the decoder input is labels shifted right)`,
        );
      }
      decoderInputIds = shiftRight(labels, this.config.decoderStartTokenId, this.config.padTokenId ?? 0);
    }
    let hidden = this.child<T5Stack>('decoder').call({
      inputIds: decoderInputIds,
      attentionMask: inputs.decoderAttentionMask,
      encoderHiddenStates: encoderOutput,
      encoderAttentionMask: inputs.attentionMask,
      cache: inputs.cache,
    });
    const lastHiddenState = hidden;
    if (this.config.scaleDecoderOutputs) hidden = hidden.mul(this.config.hiddenSize ** -0.5);
    // With labels and a plain lm_head, the loss comes from `hidden` in chunks (see lmHeadOutput).
    return lmHeadOutput(
      {
        architecture: this.architecture,
        head: this.child('lm_head'),
        hidden,
        labels,
        shift: false,
        finalLogits: (logits) => logits,
        softcap: null,
        numItemsInBatch: inputs.numItemsInBatch,
        chunkRows: this.lossChunkRows,
        composedLoss: (logits, targets) => seq2seqLmLoss(logits, targets, inputs.numItemsInBatch),
      },
      {
        lastHiddenState,
        encoderLastHiddenState: encoderOutput,
        ...(inputs.cache ? { cache: inputs.cache } : {}),
      },
    );
  }
}

/** The encoder alone with `shared` (transformers' T5EncoderModel); `logits` is its last hidden state. */
export class T5EncoderModel extends PreTrainedModel<T5Config> {
  readonly architecture = 'T5EncoderModel';
  readonly basePrefix = '';

  constructor(config: T5Config) {
    super(config);
    this.registerModule('shared', new Embedding(config.vocabSize, config.hiddenSize, { init: false }));
    this.registerModule('encoder', new T5Stack(config, false));
    this.tieWeights();
  }
  getInputEmbeddings(): string {
    return 'shared';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  protected override declaredTies(): readonly (readonly [string, string])[] {
    return [['encoder.embed_tokens.weight', 'shared.weight']];
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return [/^decoder\./, /^lm_head\./];
  }
  forward(inputs: ModelInputs): ModelOutput {
    const hidden = this.child<T5Stack>('encoder').call({
      inputIds: inputs.inputIds,
      attentionMask: inputs.attentionMask,
    });
    return { logits: hidden, lastHiddenState: hidden };
  }
}
