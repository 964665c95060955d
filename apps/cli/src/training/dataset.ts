import { readFileSync } from 'node:fs';
import type { Tokenizer } from '@lorakit/models';
import { CliError } from '../errors.js';
import { shuffled } from '../random.js';

/** One tokenized training example: the ids and the labels (-100 where no loss is taken). */
export interface Example {
  readonly inputIds: readonly number[];
  readonly labels: readonly number[];
}

/** A raw example before tokenization. */
export type RawExample = { readonly text: string } | { readonly prompt: string; readonly completion: string };

/**
 * Reads a training file: `.jsonl` / `.json` lines are objects with `text`, or `prompt` + `completion`;
 * any other file is plain text with one example per non-empty line. Errors name the line.
 */
export function readExamples(path: string): RawExample[] {
  const content = readFileSync(path, 'utf8');
  const lines = content.split(/\r?\n/);
  const jsonl = /\.jsonl?$/i.test(path);
  const examples: RawExample[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    if (!jsonl) {
      examples.push({ text: line });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new CliError(`${path}:${index + 1} is not valid JSON (${(cause as Error).message})`, { cause });
    }
    examples.push(rawExample(value, `${path}:${index + 1}`));
  }
  if (examples.length === 0) throw new CliError(`${path} holds no examples (it is empty)`);
  return examples;
}

function rawExample(value: unknown, where: string): RawExample {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (typeof record.text === 'string') return { text: record.text };
    if (typeof record.prompt === 'string' && typeof record.completion === 'string') {
      return { prompt: record.prompt, completion: record.completion };
    }
  }
  throw new CliError(
    `${where} must be an object with "text" (a string) or "prompt" and "completion" (strings), received ${JSON.stringify(value).slice(0, 80)}`,
  );
}

/**
 * Tokenizes examples with the checkpoint's tokenizer (its post-processor adds BOS where the model uses
 * one) and appends EOS, so the model learns where an answer ends. Prompt tokens of prompt/completion
 * examples get label -100 (no loss), as TRL's completion-only training does; text examples are trained
 * on every token. Sequences longer than `maxLength` are cut.
 */
export function tokenizeExamples(
  raw: readonly RawExample[],
  tokenizer: Tokenizer,
  options: { maxLength: number },
): Example[] {
  const eos = tokenizer.eosTokenId;
  return raw.map((example) => {
    let inputIds: number[];
    let labels: number[];
    if ('text' in example) {
      inputIds = tokenizer.encode(example.text);
      if (eos !== undefined) inputIds.push(eos);
      labels = [...inputIds];
    } else {
      const prompt = tokenizer.encode(example.prompt);
      const completion = tokenizer.encode(example.completion, { addSpecialTokens: false });
      if (eos !== undefined) completion.push(eos);
      inputIds = [...prompt, ...completion];
      labels = [...prompt.map(() => -100), ...completion];
    }
    return { inputIds: inputIds.slice(0, options.maxLength), labels: labels.slice(0, options.maxLength) };
  });
}

/** Splits off a seeded random `fraction` of the examples for evaluation (at least one when > 0). */
export function splitExamples<T>(
  examples: readonly T[],
  fraction: number,
  seed: number,
): { train: T[]; evaluation: T[] } {
  if (fraction <= 0) return { train: [...examples], evaluation: [] };
  const order = shuffled(examples, seed ^ 0x5eed);
  const count = Math.max(1, Math.round(order.length * fraction));
  if (count >= order.length) {
    throw new CliError(
      `--eval-split ${fraction} leaves no training examples (the data has ${examples.length} example${examples.length === 1 ? '' : 's'})`,
    );
  }
  return { evaluation: order.slice(0, count), train: order.slice(count) };
}
