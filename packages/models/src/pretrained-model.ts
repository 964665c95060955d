import { Module, Parameter } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import type { BaseModelConfig } from './config/base-config.js';
import { ModelError } from './errors.js';
import type { KVCache } from './kv-cache.js';
import { isLayerStack } from './models/checkpointing.js';

/** Inputs of every model's forward (camelCase of transformers' keyword arguments). */
export interface ModelInputs {
  /** Token ids [batch, sequence] (int64 or int32). With a cache: only the new tokens. */
  readonly inputIds: Tensor;
  /** [batch, cached + sequence]: 1 for tokens, 0 for padding. */
  readonly attentionMask?: Tensor | undefined;
  /**
   * Causal LMs: [batch, sequence] targets, shifted inside the model (position t predicts labels[t+1]);
   * -100 is ignored. Masked LM: [batch, sequence], -100 ignored. Sequence classification: [batch] class
   * ids (or floats for regression / multi-label).
   */
  readonly labels?: Tensor | undefined;
  /** BERT segment ids [batch, sequence] (default zeros). */
  readonly tokenTypeIds?: Tensor | undefined;
  /** [batch or 1, sequence] positions (default: cached length + 0, 1, 2, …). */
  readonly positionIds?: Tensor | undefined;
  /**
   * Causal LMs: divide the summed token loss by this count instead of taking the mean (transformers'
   * `num_items_in_batch`, for gradient accumulation that weighs every token equally).
   */
  readonly numItemsInBatch?: number | undefined;
  /** Key/value cache of the causal LMs; updated in place and returned. */
  readonly cache?: KVCache | undefined;
  /**
   * Encoder-decoder models (T5): the decoder's token ids [batch, target]. Without them, `labels` shifted
   * right (the decoder start token first) are used, as transformers does.
   */
  readonly decoderInputIds?: Tensor | undefined;
  /** Encoder-decoder models: [batch, cached + target] 1 for decoder tokens, 0 for padding. */
  readonly decoderAttentionMask?: Tensor | undefined;
  /** Encoder-decoder models: the encoder's last hidden state from an earlier call (the encoder is skipped). */
  readonly encoderOutput?: Tensor | undefined;
}

export interface ModelOutput {
  /**
   * Causal/masked LM: [batch, sequence, vocab]; classification: [batch, labels]. Heads-free base models
   * (`BertModel`, `LlamaModel`, `GPT2Model`) return their last hidden state here.
   */
  readonly logits: Tensor;
  /** Present when `labels` were given. */
  readonly loss?: Tensor;
  readonly cache?: KVCache;
  /** The final hidden states [batch, sequence, hidden]. */
  readonly lastHiddenState?: Tensor;
  /** BERT's pooled [CLS] output [batch, hidden]. */
  readonly pooledOutput?: Tensor;
  /** Encoder-decoder models: the encoder's last hidden state (pass it back as `encoderOutput`). */
  readonly encoderLastHiddenState?: Tensor;
}

/**
 * A Hugging Face model: a tree of `@lorakit/nn` modules registered under transformers' names, so dotted
 * paths equal the checkpoint keys and PEFT's module names. Children are always looked up by name at call
 * time, so LoRA can swap any of them with `setSubmodule`.
 */
export abstract class PreTrainedModel<C extends BaseModelConfig = BaseModelConfig> extends Module<
  [ModelInputs],
  ModelOutput
> {
  /** transformers' class name, e.g. "LlamaForCausalLM". */
  abstract readonly architecture: string;

  constructor(readonly config: C) {
    super();
  }

  get modelType(): string {
    return this.config.modelType;
  }

  /**
   * The transformers module that defines `architecture` (e.g. "transformers.models.llama.modeling_llama");
   * a saved adapter names it as `auto_mapping.parent_library`. A family whose module is not named after
   * its `model_type` overrides this.
   */
  get transformersModule(): string {
    return `transformers.models.${this.modelType}.modeling_${this.modelType}`;
  }

  /** Path of the input embedding module (e.g. "model.embed_tokens"). */
  abstract getInputEmbeddings(): string;

  /** Path of the output embedding (LM head) module, e.g. "lm_head"; null for models without one. */
  abstract getOutputEmbeddings(): string | null;

  /** Whether `generate` can drive this model (causal LMs with a KV cache, encoder-decoder LMs). */
  get canGenerate(): boolean {
    return false;
  }

  /**
   * Whether generation may keep using `cache` for a sequence now `totalLength` tokens long; false makes
   * `generate` recompute the whole prefix once (Phi-3 does when LongRoPE switches to its long factors).
   */
  reuseCache(_cache: KVCache, _totalLength: number): boolean {
    return true;
  }

  /** Whether `inputIds` feed an encoder and a decoder produces the logits (T5); see `decoderInputIds`. */
  get isEncoderDecoder(): boolean {
    return false;
  }

  /**
   * The ties the architecture declares when the config asks for them: [target, source] dotted names
   * (transformers' `_tied_weights_keys`, active with `tie_word_embeddings`).
   */
  protected declaredTies(): readonly (readonly [target: string, source: string])[] {
    return [];
  }

  // A plain field (not #private) so that Module.deepCopy carries it.
  private untiedTargets: readonly string[] = [];

  /**
   * Gradient checkpointing per layer, as transformers' `gradient_checkpointing_enable()`: in training
   * mode with gradients recorded, each decoder (or encoder) layer keeps only its input for backward and
   * is run again there (`checkpoint` of @lorakit/tensor), trading one more forward of every layer for
   * activation memory that no longer grows with the number of layers. Gradients are unchanged (dropout
   * replays the same masks). Applies to every layer stack in the tree (the heads-free base of a
   * `…ForCausalLM`, T5's encoder and decoder); inference (`eval()` or `noGrad`) is untouched. Training
   * with a KV cache is refused while it is on: the re-run would update the cache twice.
   */
  gradientCheckpointingEnable(): this {
    return this.setGradientCheckpointing(true);
  }

  /** Turns {@link gradientCheckpointingEnable} off again. */
  gradientCheckpointingDisable(): this {
    return this.setGradientCheckpointing(false);
  }

  /** Whether gradient checkpointing is on (transformers' `is_gradient_checkpointing`). */
  get isGradientCheckpointing(): boolean {
    return this.namedModules().some(([, module]) => isLayerStack(module) && module.gradientCheckpointing);
  }

  private setGradientCheckpointing(on: boolean): this {
    const stacks = this.namedModules().filter(([, module]) => isLayerStack(module));
    if (stacks.length === 0) {
      throw new ModelError(
        `[${this.architecture}] has no layer stack that supports gradient checkpointing (a module with a gradientCheckpointing field whose forward runs its layers through callLayer)`,
      );
    }
    for (const [, module] of stacks)
      (module as unknown as { gradientCheckpointing: boolean }).gradientCheckpointing = on;
    return this;
  }

  /**
   * Parameters that are the same tensor as another: [target, source] dotted names. Checkpoints store one
   * of the two; saving writes only the source.
   */
  tiedWeights(): readonly (readonly [target: string, source: string])[] {
    return this.declaredTies().filter(([target]) => !this.untiedTargets.includes(target));
  }

  /**
   * Ends a tie: `target` keeps its own tensor (a copy if it still shares the source's). transformers does
   * this when a checkpoint stores both names with different values.
   */
  untieWeight(target: string): void {
    const tie = this.tiedWeights().find(([t]) => t === target);
    if (!tie) {
      throw new ModelError(
        `[${this.architecture}] "${target}" is not tied; tied weights: ${
          this.tiedWeights()
            .map(([t]) => t)
            .join(', ') || '(none)'
        }`,
      );
    }
    this.untiedTargets = [...this.untiedTargets, target];
    const current = this.parameterAt(target);
    if (current === this.parameterAt(tie[1])) {
      this.setParameter(target, new Parameter(current.detach().clone(), current.requiresGrad));
    }
  }

  /** Checkpoint keys the model knowingly does not use (old buffers); skipped without complaint. */
  ignoredCheckpointKeys(): readonly RegExp[] {
    return [];
  }

  /** The submodule name of the heads-free model inside this one ("model", "transformer", "bert"). */
  abstract readonly basePrefix: string;

  /** Makes every tied target hold its source's Parameter (the same object, not a copy). */
  tieWeights(): void {
    for (const [target, source] of this.tiedWeights()) this.setParameter(target, this.parameterAt(source));
  }

  /** The parameter at a dotted path. */
  parameterAt(path: string): Parameter {
    const dot = path.lastIndexOf('.');
    const owner = dot < 0 ? this : this.getSubmodule(path.slice(0, dot));
    const parameter = owner.param(path.slice(dot + 1));
    if (!parameter) throw new ModelError(`[${this.architecture}] parameter ${path} is declared absent`);
    return parameter;
  }
}
