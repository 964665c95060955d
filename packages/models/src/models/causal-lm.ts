import { causalLmLoss, Linear } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { capped } from '../attention/sdpa.js';
import type { BaseModelConfig } from '../config/base-config.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { lmHeadOutput } from './lm-head-output.js';

export interface CausalLmOptions {
  /** Bias on `lm_head` (GPT-J has one; most decoders do not). */
  readonly lmHeadBias?: boolean;
}

/**
 * A heads-free decoder registered under `basePrefix` ("model", "transformer") with the LM head
 * `lm_head`, tied to the decoder's input embedding when `tie_word_embeddings` is set: what every
 * `…ForCausalLM` / `…LMHeadModel` of transformers shares. The loss is transformers' `ForCausalLMLoss`
 * (labels shifted inside, logits upcast to float32) on the logits after {@link finalLogits}. With a
 * plain `lm_head` it is taken from the final hidden states in chunks of rows (`linearCrossEntropy`),
 * never materializing the [batch·sequence, vocab] logits, and `logits` is computed only when read (see
 * `lmHeadOutput`); a LoRA layer or wrapper on `lm_head` gets the loss on the logits, as before.
 */
export abstract class DecoderForCausalLM<C extends BaseModelConfig> extends PreTrainedModel<C> {
  readonly basePrefix: string;
  /**
   * Rows of logits the chunked loss makes at a time (undefined: linearCrossEntropy's default, about
   * 256 MiB of float32 logits). The loss does not depend on it beyond float rounding.
   */
  lossChunkRows: number | undefined = undefined;

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

  /** Gemma 2's `final_logit_softcapping` (null: the logits are the head's output). */
  protected get finalLogitSoftcapping(): number | null {
    return null;
  }

  /** The LM head's output before the loss: soft-capped when {@link finalLogitSoftcapping} is set. */
  protected finalLogits(logits: Tensor): Tensor {
    return capped(logits, this.finalLogitSoftcapping);
  }

  forward(inputs: ModelInputs): ModelOutput {
    const base = this.base.call({ ...inputs, labels: undefined });
    // A subclass that overrides finalLogits does something the chunked loss does not know.
    const known = this.finalLogits === DecoderForCausalLM.prototype.finalLogits;
    return lmHeadOutput(
      {
        architecture: this.architecture,
        head: this.child('lm_head'),
        hidden: base.logits,
        labels: inputs.labels,
        shift: true,
        finalLogits: (logits) => this.finalLogits(logits),
        softcap: known ? this.finalLogitSoftcapping : false,
        numItemsInBatch: inputs.numItemsInBatch,
        chunkRows: this.lossChunkRows,
        composedLoss: (logits, labels) =>
          causalLmLoss(logits, labels, { numItemsInBatch: inputs.numItemsInBatch }),
      },
      { lastHiddenState: base.logits, ...(base.cache ? { cache: base.cache } : {}) },
    );
  }
}
