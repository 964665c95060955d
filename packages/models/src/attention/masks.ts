import { arange, getBackend, type Tensor, where } from '@lorakit/tensor';
import { ModelError } from '../errors.js';

/** The most negative float32: transformers' additive "masked" value (torch.finfo(float32).min). */
export const MASKED = -3.4028234663852886e38;

/**
 * Which keys each query may attend to, as an additive bias [batch or 1, 1, queries, keys] (0 or MASKED),
 * plus `rowScale` [batch, 1, queries, 1] (0 or 1) when some query rows may have no key at all (left
 * padding). PyTorch's scaled_dot_product_attention, transformers' default, returns zeros for such rows;
 * the eager softmax would spread them uniformly. We follow SDPA.
 */
export interface AttentionBias {
  readonly bias: Tensor | null;
  readonly rowScale: Tensor | null;
  /**
   * The bias is exactly the causal mask (no padding, no window): attention may apply the causal limit
   * itself instead of adding the bias.
   */
  readonly causal?: boolean;
  /**
   * The same mask described by rule rather than as a tensor, the form flash attention kernels take (see
   * `keyMask` and `window` of @lorakit/tensor's AttentionOptions); absent when there is no mask at all.
   */
  readonly flash?: FlashMask;
}

/** A mask made of a causal limit, a sliding window and key padding only. */
export interface FlashMask {
  readonly causal: boolean;
  /** With `causal`: keys at distance ≥ window are masked (null: none). */
  readonly window: number | null;
  /** [batch, keys] bool, true for real tokens (null: no padding). */
  readonly keyMask: Tensor | null;
}

export interface CausalMaskOptions {
  readonly queryLength: number;
  /** Positions already in the KV cache. */
  readonly pastLength: number;
  /** [batch, pastLength + queryLength] with 1 for tokens and 0 for padding. */
  readonly attentionMask?: Tensor | undefined;
  /** Keys at distance ≥ window are masked (Mistral/Qwen2 `sliding_window`): kv > q − window. */
  readonly slidingWindow?: number | null | undefined;
  readonly backend: string;
}

function checkPaddingMask(mask: Tensor, keyLength: number): Tensor {
  if (mask.rank !== 2 || mask.shape[1] !== keyLength) {
    throw new ModelError(
      `[attention] attentionMask must be [batch, ${keyLength}] (cached + new positions), received [${mask.shape.join(', ')}]`,
    );
  }
  return mask.dtype === 'bool' ? mask : mask.ne(0);
}

/**
 * Biases without a padding mask depend only on the lengths, the window and the backend: every forward of
 * a training run asks for the same one. Kept (exempt from `tidy`) and never written, so sharing is safe;
 * the oldest of more than a few shapes is dropped for the garbage collector.
 */
const cachedBiases = new Map<string, AttentionBias>();
const CACHED_SHAPES = 8;

/** Causal (optionally windowed) attention with optional padding, built with tensor ops only. */
export function causalAttentionBias(options: CausalMaskOptions): AttentionBias {
  const { queryLength, pastLength, backend } = options;
  const keyLength = pastLength + queryLength;
  const window = options.slidingWindow ?? null;
  const windowed = window !== null && keyLength > window;
  if (!options.attentionMask && !windowed && queryLength === 1) return { bias: null, rowScale: null };
  if (!options.attentionMask) {
    const key = `${backend}|${queryLength}|${pastLength}|${windowed ? window : ''}`;
    let cached = cachedBiases.get(key);
    if (!cached || cached.bias?.disposed || cached.bias?.backend !== getBackend(backend)) {
      cached = { ...buildCausalBias(options), causal: !windowed };
      cached.bias?.keep();
      cachedBiases.delete(key);
      if (cachedBiases.size >= CACHED_SHAPES) cachedBiases.delete(cachedBiases.keys().next().value!);
      cachedBiases.set(key, cached);
    }
    return cached;
  }
  return buildCausalBias(options);
}

function buildCausalBias(options: CausalMaskOptions): AttentionBias {
  const { queryLength, pastLength, backend } = options;
  const keyLength = pastLength + queryLength;
  const window = options.slidingWindow ?? null;
  const windowed = window !== null && keyLength > window;
  const flash = { causal: true, window: windowed ? window : null, keyMask: null };
  const q = arange(pastLength, keyLength, 1, { backend }).reshape(queryLength, 1);
  const k = arange(0, keyLength, 1, { backend }).reshape(1, keyLength);
  let allowed = k.le(q);
  if (windowed) allowed = allowed.logicalAnd(k.gt(q.sub(window)));
  allowed = allowed.reshape(1, 1, queryLength, keyLength);
  if (!options.attentionMask) return { bias: where(allowed, 0, MASKED), rowScale: null, flash };
  const padding = checkPaddingMask(options.attentionMask, keyLength);
  allowed = allowed.logicalAnd(padding.reshape(padding.shape[0]!, 1, 1, keyLength));
  return {
    bias: where(allowed, 0, MASKED),
    rowScale: allowed.any(-1, true).cast('float32'),
    flash: { ...flash, keyMask: padding },
  };
}

/**
 * Bidirectional attention over non-padding keys (BERT's extended attention mask: 0 for tokens, the float32
 * minimum for padding). Only a sequence made entirely of padding has rows without keys; those differ from
 * SDPA's zeros and are not worth a multiply per layer.
 */
export function paddingAttentionBias(attentionMask: Tensor | undefined, keyLength: number): AttentionBias {
  if (!attentionMask) return { bias: null, rowScale: null };
  const keyMask = checkPaddingMask(attentionMask, keyLength);
  const padding = keyMask.reshape(attentionMask.shape[0]!, 1, 1, keyLength);
  return { bias: where(padding, 0, MASKED), rowScale: null, flash: { causal: false, window: null, keyMask } };
}
