import { type AnyModule, Embedding, Linear, Module, type ModuleDict, Parameter } from '@lorakit/nn';
import { embedding, linear, noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { AdapterError } from '../errors.js';
import { ModulesToSaveWrapper } from './modules-to-save.js';

/** The weight of an Embedding or Linear layer (the layers PEFT's trainable tokens support). */
function weightOf(module: AnyModule, path: string): Parameter {
  if (module instanceof Embedding || module instanceof Linear) return module.weight;
  throw new AdapterError(
    `[lora] trainable_token_indices: ${path} is a ${module.constructor.name}; trainable tokens need an Embedding or a Linear layer (an input or output embedding)`,
  );
}

/** Holds one adapter's `trainable_tokens_delta` (the new rows, PEFT's name kept for the saved key). */
class TokenDelta extends Module<[], never> {
  constructor(delta: Parameter) {
    super();
    this.registerParameter('trainable_tokens_delta', delta);
  }

  get delta(): Parameter {
    return this.param('trainable_tokens_delta')!;
  }

  forward(): never {
    throw new AdapterError('[lora] TokenDelta holds parameters only');
  }
}

/**
 * One adapter's trainable tokens on one layer (PEFT's `TrainableTokensLayer` for that adapter): the
 * layer runs with rows `indices` of its weight replaced by `trainable_tokens_delta` (initialized to the
 * original rows, so a fresh adapter changes nothing). Only the delta is a parameter here — the original
 * layer stays outside, frozen — so it alone is trained and saved, as `token_adapter.trainable_tokens_delta`.
 * A tied copy (the output embedding of a model with tied word embeddings) uses the delta of its source
 * and has no parameter of its own, so nothing is saved twice.
 */
export class TokenRows extends Module<[Tensor], Tensor> {
  readonly #original: AnyModule;
  readonly #path: string;
  readonly indices: readonly number[];
  readonly #tiedTo: TokenRows | undefined;

  constructor(original: AnyModule, path: string, indices: readonly number[], tiedTo?: TokenRows) {
    super();
    this.#original = original;
    this.#path = path;
    this.indices = indices;
    this.#tiedTo = tiedTo;
    if (!tiedTo) {
      const weight = weightOf(original, path);
      const rows = noGrad(() => weight.indexSelect(0, this.#rowIndex(weight)).contiguous());
      this.registerModule('token_adapter', new TokenDelta(new Parameter(rows.detach())));
    }
  }

  /** The parameter of the new rows (the source's for a tied copy). */
  get delta(): Parameter {
    return this.#tiedTo ? this.#tiedTo.delta : this.child<TokenDelta>('token_adapter').delta;
  }

  #rowIndex(weight: Tensor): Tensor {
    return tensor(Int32Array.from(this.indices), { dtype: 'int32', backend: weight.backend.name });
  }

  /** The original weight with the token rows replaced (differentiable with respect to the delta). */
  replacedWeight(): Tensor {
    const weight = weightOf(this.#original, this.#path);
    const rows = this.#rowIndex(weight);
    const columns = weight.shape[1]!;
    const index = rows.reshape([rows.size, 1]).expand([rows.size, columns]).contiguous();
    // W + scatter(delta − W[rows]): equal to PEFT's `W.index_copy(0, rows, delta)`.
    return weight.detach().scatterAdd(0, index, this.delta.sub(weight.detach().indexSelect(0, rows)));
  }

  forward(x: Tensor): Tensor {
    const weight = this.replacedWeight();
    if (this.#original instanceof Linear) return linear(x, weight, this.#original.bias);
    return embedding(x, weight);
  }
}

/**
 * PEFT's `TrainableTokensWrapper` for one embedding (input, or output): per adapter a {@link TokenRows}
 * in `modules_to_save.<adapter>`, the frozen original as `original_module`. Activation, disabling and
 * mixed batches work as for modules_to_save; unloading with merge writes the rows into the original.
 */
export class TrainableTokensWrapper extends ModulesToSaveWrapper {
  readonly #path: string;

  constructor(original: AnyModule, path: string) {
    weightOf(original, path);
    super(original);
    this.#path = path;
  }

  override addAdapter(adapter: string): void {
    throw new AdapterError(
      `[lora] ${this.#path} holds trainable tokens; adapter ${adapter} cannot also save it whole (modules_to_save)`,
    );
  }

  /** Adds an adapter's token rows (`tiedTo`: the input embedding's rows, for a tied output embedding). */
  addTokens(adapter: string, indices: readonly number[], tiedTo?: TokenRows): TokenRows {
    const vocabulary = weightOf(this.original, this.#path).shape[0]!;
    const bad = indices.find((i) => !Number.isInteger(i) || i < 0 || i >= vocabulary);
    if (bad !== undefined) {
      throw new AdapterError(
        `[lora] trainable_token_indices for ${this.#path}: index ${bad} is outside the vocabulary [0, ${vocabulary})`,
      );
    }
    const rows = new TokenRows(this.original, this.#path, indices, tiedTo);
    this.child<ModuleDict>('modules_to_save').set(adapter, rows);
    this.adapters.add(adapter);
    return rows;
  }

  rowsFor(adapter: string): TokenRows {
    return this.copyFor(adapter) as TokenRows;
  }

  /** merge_and_unload writes the active adapter's rows into the original weight; unload drops them. */
  override unloadModule(merge: boolean): AnyModule {
    const active = this.activeAdapter;
    if (merge && !this.disabled && active !== undefined && this.adapters.has(active)) {
      const replaced = noGrad(() => this.rowsFor(active).replacedWeight());
      noGrad(() => weightOf(this.original, this.#path).assign(replaced));
    }
    return this.original;
  }
}
