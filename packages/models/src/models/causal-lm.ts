import { causalLmLoss, Linear } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import type { BaseModelConfig } from '../config/base-config.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';

export interface CausalLmOptions {
  /** Bias on `lm_head` (GPT-J has one; most decoders do not). */
  readonly lmHeadBias?: boolean;
}

/**
 * A heads-free decoder registered under `basePrefix` ("model", "transformer") with the LM head
 * `lm_head`, tied to the decoder's input embedding when `tie_word_embeddings` is set: what every
 * `…ForCausalLM` / `…LMHeadModel` of transformers shares. The loss is @lorakit/nn's `causalLmLoss`
 * (labels shifted inside), taken on the logits after {@link finalLogits}.
 */
export abstract class DecoderForCausalLM<C extends BaseModelConfig> extends PreTrainedModel<C> {
  readonly basePrefix: string;

  constructor(config: C, basePrefix: string, base: PreTrainedModel<C>, options: CausalLmOptions = {}) {
    super(config);
    this.basePrefix = basePrefix;
    this.registerModule(basePrefix, base);
    this.registerModule(
      'lm_head',
      new Linear(config.hiddenSize, config.vocabSize, { bias: options.lmHeadBias ?? false, init: false }),
    );
    this.tieWeights();
  }

  private get base(): PreTrainedModel<C> {
    return this.child<PreTrainedModel<C>>(this.basePrefix);
  }

  getInputEmbeddings(): string {
    return `${this.basePrefix}.${this.base.getInputEmbeddings()}`;
  }
  getOutputEmbeddings(): string {
    return 'lm_head';
  }
  override get canGenerate(): boolean {
    return true;
  }
  protected override declaredTies(): readonly (readonly [string, string])[] {
    return this.config.tieWordEmbeddings ? [['lm_head.weight', `${this.getInputEmbeddings()}.weight`]] : [];
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return this.base.ignoredCheckpointKeys();
  }

  /** The LM head's output before the loss (Gemma 2 soft-caps it); identity by default. */
  protected finalLogits(logits: Tensor): Tensor {
    return logits;
  }

  forward(inputs: ModelInputs): ModelOutput {
    const base = this.base.call({ ...inputs, labels: undefined });
    const logits = this.finalLogits(this.child('lm_head').call(base.logits));
    const loss = inputs.labels
      ? causalLmLoss(logits, inputs.labels, { numItemsInBatch: inputs.numItemsInBatch })
      : undefined;
    return {
      logits,
      lastHiddenState: base.logits,
      ...(loss ? { loss } : {}),
      ...(base.cache ? { cache: base.cache } : {}),
    };
  }
}
