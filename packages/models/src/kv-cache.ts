import { cat, type Tensor } from '@lorakit/tensor';
import { ModelError } from './errors.js';

/**
 * Keys and values of the positions already processed, per layer (transformers' DynamicCache). A forward
 * given a cache attends over the cached positions plus the new ones and appends the new keys and values;
 * the caller passes only the new tokens. Keys/values are [batch, kvHeads, positions, headDim].
 */
export class KVCache {
  #keys: Tensor[] = [];
  #values: Tensor[] = [];

  /** Number of cached positions (0 when empty). */
  get length(): number {
    return this.#keys[0]?.shape[2] ?? 0;
  }

  /** Number of layers holding entries. */
  get layers(): number {
    return this.#keys.length;
  }

  /** Appends a layer's new keys and values and returns all of them (cached first). */
  update(layer: number, keys: Tensor, values: Tensor): { keys: Tensor; values: Tensor } {
    if (layer > this.#keys.length) {
      throw new ModelError(`[KVCache] layer ${layer} updated before layer ${this.#keys.length}`);
    }
    if (layer === this.#keys.length) {
      this.#keys.push(keys);
      this.#values.push(values);
      return { keys, values };
    }
    const allKeys = cat([this.#keys[layer]!, keys], 2);
    const allValues = cat([this.#values[layer]!, values], 2);
    this.#keys[layer] = allKeys;
    this.#values[layer] = allValues;
    return { keys: allKeys, values: allValues };
  }

  /** The cached keys and values of a layer. */
  get(layer: number): { keys: Tensor; values: Tensor } {
    const keys = this.#keys[layer];
    if (!keys)
      throw new ModelError(`[KVCache] layer ${layer} has no entries (${this.#keys.length} layers cached)`);
    return { keys, values: this.#values[layer]! };
  }
}

/**
 * The cache of an encoder-decoder model (transformers' EncoderDecoderCache): the decoder's self-attention
 * keys/values grow by step as in {@link KVCache}; the cross-attention keys/values are computed once from
 * the encoder output and kept in `crossAttention`.
 */
export class EncoderDecoderCache extends KVCache {
  readonly crossAttention = new KVCache();
}
