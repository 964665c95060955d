import { Linear } from '@lorakit/nn';
import { arange, type Tensor } from '@lorakit/tensor';
import type { BaseModelConfig } from '../config/base-config.js';
import type { Gpt2Config } from '../config/gpt2-config.js';
import type { LlamaConfig } from '../config/llama-config.js';
import { ModelError } from '../errors.js';
import { inferProblemType, sequenceClassificationLoss } from '../losses.js';
import { type ModelInputs, type ModelOutput, PreTrainedModel } from '../pretrained-model.js';
import { GPT2Model } from './gpt2.js';
import { familyPrefix, LlamaModel } from './llama.js';

/**
 * The score of each row's last token that is not padding (transformers' GenericForSequenceClassification:
 * the rightmost position whose id ≠ pad_token_id, so left and right padding both work). Tensor ops only:
 * argmax of position × [id ≠ pad] picks that position.
 */
export function lastTokenLogits(
  logits: Tensor,
  inputIds: Tensor,
  padTokenId: number | null,
  owner: string,
): Tensor {
  const [batch, length, labels] = logits.shape as [number, number, number];
  if (padTokenId === null) {
    if (batch !== 1) {
      throw new ModelError(
        `[${owner}] cannot find the last token of each row of a batch of ${batch} without "pad_token_id" in config.json`,
      );
    }
    return logits.select(1, length - 1);
  }
  const positions = arange(0, length, 1, { backend: inputIds.backend.name });
  const last = positions.mul(inputIds.ne(padTokenId).cast('int64')).argmax(-1);
  return logits.gather(1, last.reshape(batch, 1, 1).expand(batch, 1, labels)).squeeze(1);
}

/** A decoder with a bias-free `score` head read at each row's last token. */
export abstract class DecoderForSequenceClassification<C extends BaseModelConfig> extends PreTrainedModel<C> {
  readonly basePrefix: string;

  constructor(config: C, basePrefix: string, base: PreTrainedModel<C>) {
    super(config);
    this.basePrefix = basePrefix;
    this.registerModule(basePrefix, base);
    this.registerModule(
      'score',
      new Linear(config.hiddenSize, config.numLabels, { bias: false, init: false }),
    );
  }

  getInputEmbeddings(): string {
    return `${this.basePrefix}.${this.child<PreTrainedModel<C>>(this.basePrefix).getInputEmbeddings()}`;
  }
  getOutputEmbeddings(): null {
    return null;
  }
  override ignoredCheckpointKeys(): readonly RegExp[] {
    return this.child<PreTrainedModel<C>>(this.basePrefix).ignoredCheckpointKeys();
  }

  forward(inputs: ModelInputs): ModelOutput {
    const base = this.child<PreTrainedModel<C>>(this.basePrefix).call({ ...inputs, labels: undefined });
    const scores = this.child('score').call(base.logits);
    const logits = lastTokenLogits(scores, inputs.inputIds, this.config.padTokenId, this.architecture);
    const { labels } = inputs;
    const loss = labels
      ? sequenceClassificationLoss(
          logits,
          labels,
          this.config.problemType ?? inferProblemType(this.config.numLabels, labels),
        )
      : undefined;
    return {
      logits,
      lastHiddenState: base.logits,
      ...(loss ? { loss } : {}),
      ...(base.cache ? { cache: base.cache } : {}),
    };
  }
}

/** Llama/Mistral/Qwen2 with `score` (transformers' `LlamaForSequenceClassification` and siblings). */
export class LlamaForSequenceClassification extends DecoderForSequenceClassification<LlamaConfig> {
  readonly architecture: string;
  constructor(config: LlamaConfig) {
    super(config, 'model', new LlamaModel(config));
    this.architecture = `${familyPrefix(config)}ForSequenceClassification`;
  }
}

export class GPT2ForSequenceClassification extends DecoderForSequenceClassification<Gpt2Config> {
  readonly architecture = 'GPT2ForSequenceClassification';
  constructor(config: Gpt2Config) {
    super(config, 'transformer', new GPT2Model(config));
  }
}
