import { LETTERS, PUNCTUATION } from './task-language.js';

/** The demo tokenizer's special tokens, with ids 0, 1, 2. */
export const SPECIAL_TOKENS = { pad: '<pad>', bos: '<s>', eos: '</s>' } as const;

/**
 * A character-level `tokenizer.json` (Hugging Face tokenizers' format) for the demo's task language: a
 * BPE model whose vocabulary is the single characters and which has no merges, so every character is one
 * token; a `Fuse` decoder so decoding concatenates without spaces; `<s>` prepended by the post-processor.
 * The same file loads in transformers and in @lorakit/models.
 */
export function charTokenizerJson(): Record<string, unknown> {
  const specials = [SPECIAL_TOKENS.pad, SPECIAL_TOKENS.bos, SPECIAL_TOKENS.eos];
  const characters = [...PUNCTUATION, ...LETTERS];
  const vocab: Record<string, number> = {};
  for (const token of [...specials, ...characters]) vocab[token] = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: SPECIAL_TOKENS.bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: {
        [SPECIAL_TOKENS.bos]: { id: SPECIAL_TOKENS.bos, ids: [1], tokens: [SPECIAL_TOKENS.bos] },
      },
    },
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: [],
    },
  };
}

/** tokenizer_config.json naming the special tokens (read by transformers and @lorakit/models). */
export function charTokenizerConfig(): Record<string, unknown> {
  return {
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    model_max_length: 64,
    tokenizer_class: 'PreTrainedTokenizerFast',
    clean_up_tokenization_spaces: false,
  };
}
