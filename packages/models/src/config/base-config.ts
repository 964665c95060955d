import type { ProblemType } from './classification.js';
import type { RawConfig } from './fields.js';

/** What every supported configuration has, in camelCase. `raw` is the config.json object as read. */
export interface BaseModelConfig {
  readonly modelType: string;
  /** transformers' `architectures` (e.g. ["LlamaForCausalLM"]); empty when the file has none. */
  readonly architectures: readonly string[];
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly tieWordEmbeddings: boolean;
  readonly initializerRange: number;
  readonly bosTokenId: number | null;
  /** `eos_token_id` as a list (it may be one id or several in config.json). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /** Labels of a sequence-classification head: `id2label`'s size, else `num_labels`, else 2. */
  readonly numLabels: number;
  /** null: chosen from the labels at the first loss, as transformers does. */
  readonly problemType: ProblemType | null;
  readonly raw: RawConfig;
}
