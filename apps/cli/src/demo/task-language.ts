import { seededRandom } from '../random.js';

/**
 * The demo's synthetic task language: one example per line, `<task>: <input>|<answer>`, over the 26
 * lowercase letters with five-letter inputs. The base model is pretrained on `copy` (the answer repeats
 * the input); the demo fine-tunes a LoRA adapter on `shift` (every letter moves one place on, z wraps to
 * a), which the base model has never seen: it copies instead, so it gets every shift answer wrong.
 */

export const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Every character the demo's texts use besides the letters, in vocabulary order. */
export const PUNCTUATION = ' :|';

export type TaskName = 'copy' | 'shift';

export interface TaskExample {
  /** `"shift: abc|"`: what the model is given. */
  readonly prompt: string;
  /** `"bcd"`: what it must produce after the prompt. */
  readonly completion: string;
}

/** The answer of a task for one input word. */
export function solve(task: TaskName, word: string): string {
  if (task === 'copy') return word;
  return [...word].map((c) => LETTERS[(LETTERS.indexOf(c) + 1) % LETTERS.length]).join('');
}

export function example(task: TaskName, word: string): TaskExample {
  return { prompt: `${task}: ${word}|`, completion: solve(task, word) };
}

/** Words of `minLength`…`maxLength` random letters, all different and none in `exclude`. */
export function randomWords(
  count: number,
  options: { seed: number; minLength: number; maxLength: number; exclude?: ReadonlySet<string> },
): string[] {
  const random = seededRandom(options.seed);
  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < count) {
    const length = options.minLength + Math.floor(random() * (options.maxLength - options.minLength + 1));
    let word = '';
    for (let i = 0; i < length; i++) word += LETTERS[Math.floor(random() * LETTERS.length)];
    if (seen.has(word) || options.exclude?.has(word)) continue;
    seen.add(word);
    words.push(word);
  }
  return words;
}

/** Every input word has this many letters (a fixed length lets a 2-layer model learn to copy in ~100 steps). */
export const WORD_LENGTH = 5;

/** Seeds of the demo's data: held-out evaluation words, pretraining words, fine-tuning words. */
export const SEEDS = { heldOut: 7, pretrain: 1, finetune: 2 } as const;

/** The held-out words the demo measures accuracy on; never used for pretraining or fine-tuning. */
export function heldOutWords(count = 100): string[] {
  return randomWords(count, { seed: SEEDS.heldOut, minLength: WORD_LENGTH, maxLength: WORD_LENGTH });
}

/** `count` training words of the given seed, none of them held out. */
export function trainingWords(count: number, seed: number): string[] {
  return randomWords(count, {
    seed,
    minLength: WORD_LENGTH,
    maxLength: WORD_LENGTH,
    exclude: new Set(heldOutWords()),
  });
}

/** Prompt/completion JSONL lines for `lorakit train`. */
export function jsonlLines(task: TaskName, words: readonly string[]): string {
  return words.map((w) => `${JSON.stringify(example(task, w))}\n`).join('');
}

/**
 * The base model's config.json: a Llama with a 32-character vocabulary, hidden size 64, two layers of
 * four heads, tied embeddings — 84,288 parameters, about 340 KB in float32.
 */
export const BASE_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 32,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  hidden_act: 'silu',
  max_position_embeddings: 32,
  initializer_range: 0.02,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  pad_token_id: 0,
} as const;
