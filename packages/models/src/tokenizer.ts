import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { type Tensor, tensor } from '@lorakit/tensor';
import { TokenizerError } from './errors.js';

export interface EncodeOptions {
  /** Add the post-processor's special tokens (BOS, [CLS]/[SEP], …). Default true. */
  readonly addSpecialTokens?: boolean;
}

export interface BatchEncodeOptions extends EncodeOptions {
  /** Which side gets the padding (default right; decoder-only generation wants left). */
  readonly paddingSide?: 'left' | 'right';
}

export interface DecodeOptions {
  readonly skipSpecialTokens?: boolean;
}

const SPECIAL_NAMES = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
];

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (cause) {
    throw new TokenizerError(`[loadTokenizer] ${path} is not valid JSON: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * A Hugging Face fast tokenizer (`tokenizer.json`) run by `@huggingface/tokenizers`, the pure-JavaScript
 * implementation (no native code, nothing downloaded at install). Special tokens come from
 * `tokenizer_config.json` when present.
 */
export class Tokenizer {
  readonly #inner: HfTokenizer;
  readonly #config: Record<string, unknown>;

  constructor(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown> = {}) {
    const config: Record<string, unknown> = { clean_up_tokenization_spaces: false, ...tokenizerConfig };
    // tokenizer_config.json may store special tokens as AddedToken objects; the library wants strings.
    for (const name of SPECIAL_NAMES) {
      const value = config[name];
      if (value && typeof value === 'object' && 'content' in value)
        config[name] = (value as { content: string }).content;
    }
    try {
      this.#inner = new HfTokenizer(tokenizerJson, config);
    } catch (cause) {
      throw new TokenizerError(`[Tokenizer] cannot build the tokenizer: ${(cause as Error).message}`, {
        cause,
      });
    }
    this.#config = config;
  }

  /** Token ids of `text`. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.#inner.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** Token strings of `text` (without special tokens). */
  tokenize(text: string): string[] {
    return this.#inner.tokenize(text);
  }

  /**
   * Encodes several texts padded to the longest: `inputIds` and `attentionMask`, [batch, longest] int64.
   * Padding uses the pad token (else eos, else 0).
   */
  encodeBatch(
    texts: readonly string[],
    options: BatchEncodeOptions = {},
  ): { inputIds: Tensor; attentionMask: Tensor } {
    if (texts.length === 0) throw new TokenizerError('[Tokenizer] encodeBatch needs at least one text');
    const encoded = texts.map((t) => this.encode(t, options));
    const longest = Math.max(...encoded.map((ids) => ids.length));
    const pad = this.padTokenId ?? this.eosTokenId ?? 0;
    const ids = new BigInt64Array(texts.length * longest);
    const mask = new BigInt64Array(texts.length * longest);
    for (const [row, sequence] of encoded.entries()) {
      const offset = row * longest + (options.paddingSide === 'left' ? longest - sequence.length : 0);
      for (let i = 0; i < longest; i++) ids[row * longest + i] = BigInt(pad);
      for (const [i, id] of sequence.entries()) {
        ids[offset + i] = BigInt(id);
        mask[offset + i] = 1n;
      }
    }
    const shape = [texts.length, longest];
    return {
      inputIds: tensor(ids, { shape, dtype: 'int64' }),
      attentionMask: tensor(mask, { shape, dtype: 'int64' }),
    };
  }

  /** Text of token ids (an array or a 1-D integer tensor). */
  decode(ids: readonly number[] | Tensor, options: DecodeOptions = {}): string {
    const list = Array.isArray(ids)
      ? [...ids]
      : Array.from((ids as Tensor).toArray() as ArrayLike<number | bigint>, Number);
    return this.#inner.decode(list, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.#inner.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.#inner.id_to_token(id);
  }

  /** Vocabulary size including added tokens. */
  get vocabSize(): number {
    return this.#inner.get_vocab(true).size;
  }

  #special(name: string): number | undefined {
    const token = this.#config[name];
    return typeof token === 'string' ? this.tokenToId(token) : undefined;
  }
  get bosTokenId(): number | undefined {
    return this.#special('bos_token');
  }
  get eosTokenId(): number | undefined {
    return this.#special('eos_token');
  }
  get padTokenId(): number | undefined {
    return this.#special('pad_token');
  }
}

/** Loads `tokenizer.json` (and `tokenizer_config.json` when present) from a checkpoint folder. */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const path = join(dir, 'tokenizer.json');
  if (!existsSync(path)) {
    throw new TokenizerError(
      `[loadTokenizer] ${dir} has no tokenizer.json (only fast tokenizers are supported; convert a slow one with transformers' AutoTokenizer and save_pretrained)`,
    );
  }
  const configPath = join(dir, 'tokenizer_config.json');
  return new Tokenizer(readJson(path), existsSync(configPath) ? readJson(configPath) : {});
}
