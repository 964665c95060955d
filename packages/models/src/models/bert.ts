import {
  ACTIVATIONS,
  Dropout,
  Embedding,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  Parameter,
} from '@lorakit/nn';
import { type Tensor, zeros } from '@lorakit/tensor';
import { type AttentionBias, paddingAttentionBias } from '../attention/masks.js';
import { scaledDotProductAttention } from '../attention/sdpa.js';
import type { BertConfig } from '../config/bert-config.js';
import { ModelError } from '../errors.js';
import { inferProblemType, maskedLmLoss, sequenceClassificationLoss } from '../losses.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { callLayer } from './checkpointing.js';
import { checkInputIds, defaultPositionIds } from './inputs.js';

export class BertEmbeddings extends Module<[Tensor, Tensor, Tensor], Tensor> {
  constructor(config: BertConfig) {
    super();
    const hidden = config.hiddenSize;
    this.registerModule(
      'word_embeddings',
      new Embedding(config.vocabSize, hidden, {
        init: false,
        paddingIdx: config.padTokenId ?? undefined,
      }),
    );
    this.registerModule(
      'position_embeddings',
      new Embedding(config.maxPositionEmbeddings, hidden, { init: false }),
    );
    this.registerModule(
      'token_type_embeddings',
      new Embedding(config.typeVocabSize, hidden, { init: false }),
    );
    this.registerModule('LayerNorm', new LayerNorm(hidden, config.layerNormEps));
    this.registerModule('dropout', new Dropout(config.hiddenDropoutProb));
  }
  forward(inputIds: Tensor, tokenTypeIds: Tensor, positionIds: Tensor): Tensor {
    const embeddings = this.child('word_embeddings')
      .call(inputIds)
      .add(this.child('token_type_embeddings').call(tokenTypeIds))
      .add(this.child('position_embeddings').call(positionIds));
    return this.child('dropout').call(this.child('LayerNorm').call(embeddings));
  }
}

export class BertSelfAttention extends Module<[Tensor, AttentionBias], Tensor> {
  readonly numHeads: number;
  readonly headDim: number;
  constructor(config: BertConfig) {
    super();
    const hidden = config.hiddenSize;
    this.numHeads = config.numAttentionHeads;
    this.headDim = hidden / this.numHeads;
    for (const name of ['query', 'key', 'value'])
      this.registerModule(name, new Linear(hidden, hidden, { init: false }));
    this.registerModule('dropout', new Dropout(config.attentionProbsDropoutProb));
  }
  forward(hidden: Tensor, mask: AttentionBias): Tensor {
    const [batch, length] = hidden.shape as [number, number];
    const heads = (name: string) =>
      this.child(name).call(hidden).reshape(batch, length, this.numHeads, this.headDim).transpose(1, 2);
    const dropout = this.child<Dropout>('dropout');
    const out = scaledDotProductAttention(heads('query'), heads('key'), heads('value'), {
      mask,
      scale: this.headDim ** -0.5,
      dropout: dropout.p,
      training: dropout.training,
    });
    return out.transpose(1, 2).reshape(batch, length, -1);
  }
}

/** dense → dropout → LayerNorm(x + residual): BERT's `attention.output` and `output`. */
export class BertResidualOutput extends Module<[Tensor, Tensor], Tensor> {
  constructor(inFeatures: number, config: BertConfig) {
    super();
    this.registerModule('dense', new Linear(inFeatures, config.hiddenSize, { init: false }));
    this.registerModule('LayerNorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.registerModule('dropout', new Dropout(config.hiddenDropoutProb));
  }
  forward(x: Tensor, residual: Tensor): Tensor {
    const h = this.child('dropout').call(this.child('dense').call(x));
    return this.child('LayerNorm').call(h.add(residual));
  }
}

export class BertAttention extends Module<[Tensor, AttentionBias], Tensor> {
  constructor(config: BertConfig) {
    super();
    this.registerModule('self', new BertSelfAttention(config));
    this.registerModule('output', new BertResidualOutput(config.hiddenSize, config));
  }
  forward(hidden: Tensor, mask: AttentionBias): Tensor {
    return this.child('output').call(this.child('self').call(hidden, mask), hidden);
  }
}

export class BertIntermediate extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: BertConfig) {
    super();
    this.registerModule('dense', new Linear(config.hiddenSize, config.intermediateSize, { init: false }));
    this.activation = ACTIVATIONS[config.hiddenAct];
  }
  forward(x: Tensor): Tensor {
    return this.activation(this.child('dense').call(x));
  }
}

export class BertLayer extends Module<[Tensor, AttentionBias], Tensor> {
  constructor(config: BertConfig) {
    super();
    this.registerModule('attention', new BertAttention(config));
    this.registerModule('intermediate', new BertIntermediate(config));
    this.registerModule('output', new BertResidualOutput(config.intermediateSize, config));
  }
  forward(hidden: Tensor, mask: AttentionBias): Tensor {
    const attended = this.child('attention').call(hidden, mask);
    return this.child('output').call(this.child('intermediate').call(attended), attended);
  }
}

export class BertEncoder extends Module<[Tensor, AttentionBias], Tensor> {
  /** Run each layer under `checkpoint` in training (see `PreTrainedModel.gradientCheckpointingEnable`). */
  gradientCheckpointing = false;
  constructor(config: BertConfig) {
    super();
    this.registerModule(
      'layer',
      new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config))),
    );
  }
  forward(hidden: Tensor, mask: AttentionBias): Tensor {
    let h = hidden;
    for (const layer of this.child<ModuleList>('layer')) h = callLayer(this, 'BertEncoder', layer, h, mask);
    return h;
  }
}

/** tanh(dense(hidden[:, 0])): the [CLS] summary. */
export class BertPooler extends Module {
  constructor(config: BertConfig) {
    super();
    this.registerModule('dense', new Linear(config.hiddenSize, config.hiddenSize, { init: false }));
  }
  forward(hidden: Tensor): Tensor {
    return this.child('dense').call(hidden.select(1, 0)).tanh();
  }
}

/**
 * BERT's encoder: `embeddings`, `encoder.layer.N`, optional `pooler`. Its output `logits` is the last
 * hidden state and `pooledOutput` the pooler's.
 */
export class BertModel extends PreTrainedModel<BertConfig> {
  readonly architecture = 'BertModel';
  readonly basePrefix = '';

  constructor(
    config: BertConfig,
    readonly addPoolingLayer = true,
  ) {
    super(config);
    this.registerModule('embeddings', new BertEmbeddings(config));
    this.registerModule('encoder', new BertEncoder(config));
    if (addPoolingLayer) this.registerModule('pooler', new BertPooler(config));
  }

  getInputEmbeddings(): string {
    return 'embeddings.word_embeddings';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return BERT_IGNORED;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const { inputIds } = inputs;
    const [batch, length] = checkInputIds(inputIds);
    if (inputs.cache) throw new ModelError(`[${this.architecture}] BERT is an encoder and takes no KV cache`);
    const backend = inputIds.backend.name;
    const positionIds = inputs.positionIds ?? defaultPositionIds(0, length, backend);
    const tokenTypeIds = inputs.tokenTypeIds ?? zeros([batch, length], { dtype: 'int64', backend });
    const embedded = this.child('embeddings').call(inputIds, tokenTypeIds, positionIds);
    const mask = paddingAttentionBias(inputs.attentionMask, length);
    const hidden = this.child('encoder').call(embedded, mask);
    const pooledOutput = this.addPoolingLayer ? this.child('pooler').call(hidden) : undefined;
    return { logits: hidden, lastHiddenState: hidden, ...(pooledOutput ? { pooledOutput } : {}) };
  }
}

// Old checkpoints persisted the position_ids buffer.
const BERT_IGNORED = [/(^|\.)embeddings\.position_ids$/];

export class BertPredictionHeadTransform extends Module {
  readonly activation: (x: Tensor) => Tensor;
  constructor(config: BertConfig) {
    super();
    this.registerModule('dense', new Linear(config.hiddenSize, config.hiddenSize, { init: false }));
    this.registerModule('LayerNorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.activation = ACTIVATIONS[config.hiddenAct];
  }
  forward(x: Tensor): Tensor {
    return this.child('LayerNorm').call(this.activation(this.child('dense').call(x)));
  }
}

/** `cls.predictions`: transform, then `decoder` (tied to the word embeddings; its bias is `bias`). */
export class BertLMPredictionHead extends Module {
  constructor(config: BertConfig) {
    super();
    this.registerModule('transform', new BertPredictionHeadTransform(config));
    this.registerModule('decoder', new Linear(config.hiddenSize, config.vocabSize, { init: false }));
    this.registerParameter('bias', new Parameter(zeros([config.vocabSize])));
  }
  forward(x: Tensor): Tensor {
    return this.child('decoder').call(this.child('transform').call(x));
  }
}

export class BertOnlyMLMHead extends Module {
  constructor(config: BertConfig) {
    super();
    this.registerModule('predictions', new BertLMPredictionHead(config));
  }
  forward(x: Tensor): Tensor {
    return this.child('predictions').call(x);
  }
}

export class BertForMaskedLM extends PreTrainedModel<BertConfig> {
  readonly architecture = 'BertForMaskedLM';
  readonly basePrefix = 'bert';

  constructor(config: BertConfig) {
    super(config);
    this.registerModule('bert', new BertModel(config, false));
    this.registerModule('cls', new BertOnlyMLMHead(config));
    this.tieWeights();
  }

  getInputEmbeddings(): string {
    return 'bert.embeddings.word_embeddings';
  }
  getOutputEmbeddings(): string {
    return 'cls.predictions.decoder';
  }
  protected override declaredTies(): readonly (readonly [string, string])[] {
    if (!this.config.tieWordEmbeddings) return [];
    return [
      ['cls.predictions.decoder.weight', 'bert.embeddings.word_embeddings.weight'],
      ['cls.predictions.decoder.bias', 'cls.predictions.bias'],
    ];
  }
  /** Pretraining checkpoints (BertForPreTraining) also hold the next-sentence head and the pooler. */
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return [...BERT_IGNORED, /^cls\.seq_relationship\./, /^bert\.pooler\./];
  }

  forward(inputs: ModelInputs): ModelOutput {
    const base = this.child<BertModel>('bert').call({ ...inputs, labels: undefined });
    const logits = this.child('cls').call(base.logits);
    const loss = inputs.labels ? maskedLmLoss(logits, inputs.labels) : undefined;
    return { logits, lastHiddenState: base.logits, ...(loss ? { loss } : {}) };
  }
}

export class BertForSequenceClassification extends PreTrainedModel<BertConfig> {
  readonly architecture = 'BertForSequenceClassification';
  readonly basePrefix = 'bert';

  constructor(config: BertConfig) {
    super(config);
    this.registerModule('bert', new BertModel(config, true));
    this.registerModule('dropout', new Dropout(config.classifierDropout));
    this.registerModule('classifier', new Linear(config.hiddenSize, config.numLabels, { init: false }));
  }

  getInputEmbeddings(): string {
    return 'bert.embeddings.word_embeddings';
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return BERT_IGNORED;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const base = this.child<BertModel>('bert').call({ ...inputs, labels: undefined });
    const logits = this.child('classifier').call(this.child('dropout').call(base.pooledOutput!));
    const { labels } = inputs;
    const problemType = labels
      ? (this.config.problemType ?? inferProblemType(this.config.numLabels, labels))
      : null;
    const loss = labels && problemType ? sequenceClassificationLoss(logits, labels, problemType) : undefined;
    return {
      logits,
      lastHiddenState: base.logits,
      pooledOutput: base.pooledOutput!,
      ...(loss ? { loss } : {}),
    };
  }
}
