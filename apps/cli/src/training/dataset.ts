import { readFileSync } from 'node:fs';
import type { PreTrainedModel, Tokenizer } from '@lorakit/models';
import { chatMessages, tokenizeConversation } from '../data/chat-examples.js';
import type { ChatMessage, ChatTemplate } from '../data/chat-template.js';
import { CliError } from '../errors.js';
import { shuffled } from '../random.js';
import { resolveLabel, type TrainingTask } from './task.js';

/**
 * One tokenized training example. `labels`: causal LM — one per input token (-100 where no loss is
 * taken); sequence-to-sequence — the target's ids; classification — [the class id].
 */
export interface Example {
  readonly inputIds: readonly number[];
  readonly labels: readonly number[];
}

/** A raw example before tokenization, with its line in the file (1-based) when read from one. */
export type RawExample = { readonly line?: number } & (
  | { readonly text: string }
  | { readonly prompt: string; readonly completion: string }
  | { readonly input: string; readonly target: string }
  | { readonly text: string; readonly label: number | string }
  | { readonly messages: readonly ChatMessage[] }
);

/**
 * Reads a training file: `.jsonl` / `.json` lines are objects with `text`, `prompt` + `completion`,
 * `input` + `target` (sequence-to-sequence), `text` + `label` (classification) or `messages` (a chat:
 * [{role, content}, …], rendered with the model's chat template); any other file is plain
 * text with one example per non-empty line. Errors name the line.
 */
export function readExamples(path: string): RawExample[] {
  const content = readFileSync(path, 'utf8');
  const lines = content.split(/\r?\n/);
  const jsonl = /\.jsonl?$/i.test(path);
  const examples: RawExample[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    if (!jsonl) {
      examples.push({ line: index + 1, text: line });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw new CliError(`${path}:${index + 1} is not valid JSON (${(cause as Error).message})`, { cause });
    }
    examples.push(rawExample(value, path, index + 1));
  }
  if (examples.length === 0) throw new CliError(`${path} holds no examples (it is empty)`);
  return examples;
}

function rawExample(value: unknown, path: string, line: number): RawExample {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if ('messages' in record) return { line, messages: chatMessages(record.messages, `${path}:${line}`) };
    const label = record.label;
    if (typeof record.text === 'string' && (typeof label === 'number' || typeof label === 'string')) {
      return { line, text: record.text, label };
    }
    if (typeof record.text === 'string') return { line, text: record.text };
    if (typeof record.prompt === 'string' && typeof record.completion === 'string') {
      return { line, prompt: record.prompt, completion: record.completion };
    }
    if (typeof record.input === 'string' && typeof record.target === 'string') {
      return { line, input: record.input, target: record.target };
    }
  }
  throw new CliError(
    `${path}:${line} must be an object with "text" (a string), "prompt" and "completion" or "input" and "target" (strings), "text" and "label", or "messages", received ${JSON.stringify(value).slice(0, 80)}`,
  );
}

/** Appends `eos` unless the ids already end with it (a post-processor may add it). */
function endWith(ids: number[], eos: number | undefined): number[] {
  if (eos !== undefined && ids.at(-1) !== eos) ids.push(eos);
  return ids;
}

/**
 * Tokenizes examples with the checkpoint's tokenizer (its post-processor adds BOS/CLS/SEP where the
 * model uses them). Causal LM: EOS appended so the model learns where an answer ends; prompt tokens of
 * prompt/completion (or input/target) examples get label -100 (no loss), as TRL's completion-only
 * training does; text examples are trained on every token. Sequence-to-sequence: the input and the
 * target (ending with EOS) are separate sequences. Classification: the text and its class id.
 * Chat examples (`messages`) are rendered with `chatTemplate` and trained on the assistant turns only.
 * `completionOnly: false` trains on every token of prompt/completion and chat examples instead.
 * Sequences longer than `maxLength` are cut.
 */
export function tokenizeExamples(
  raw: readonly RawExample[],
  tokenizer: Tokenizer,
  options: {
    maxLength: number;
    task?: TrainingTask;
    model?: PreTrainedModel;
    where?: string;
    chatTemplate?: ChatTemplate;
    completionOnly?: boolean;
  },
): Example[] {
  const eos = tokenizer.eosTokenId;
  const task = options.task ?? 'causal-lm';
  const cut = (ids: readonly number[]) => ids.slice(0, options.maxLength);
  return raw.map((example, index) => {
    if (task === 'sequence-classification' && 'label' in example) {
      const where = `${options.where ?? 'data'}:${example.line ?? index + 1}`;
      return {
        inputIds: cut(tokenizer.encode(example.text)),
        labels: [resolveLabel(example.label, options.model!, where)],
      };
    }
    if (task === 'seq2seq' && !('text' in example) && !('messages' in example)) {
      const [input, target] =
        'input' in example ? [example.input, example.target] : [example.prompt, example.completion];
      return { inputIds: cut(tokenizer.encode(input)), labels: cut(endWith(tokenizer.encode(target), eos)) };
    }
    let inputIds: number[];
    let labels: number[];
    if ('messages' in example) {
      const where = `${options.where ?? 'data'}:${example.line ?? index + 1}`;
      if (!options.chatTemplate) {
        throw new CliError(
          `${where} is a chat record ("messages") but the model has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja); use "text" or "prompt"/"completion" records`,
        );
      }
      ({ inputIds, labels } = tokenizeConversation(example.messages, options.chatTemplate, tokenizer, {
        where,
        assistantOnly: options.completionOnly ?? true,
      }));
    } else if ('text' in example) {
      inputIds = tokenizer.encode(example.text);
      if (eos !== undefined) inputIds.push(eos);
      labels = [...inputIds];
    } else {
      const [first, second] =
        'input' in example ? [example.input, example.target] : [example.prompt, example.completion];
      const prompt = tokenizer.encode(first);
      const completion = tokenizer.encode(second, { addSpecialTokens: false });
      if (eos !== undefined) completion.push(eos);
      inputIds = [...prompt, ...completion];
      labels = [...(options.completionOnly === false ? prompt : prompt.map(() => -100)), ...completion];
    }
    return { inputIds: cut(inputIds), labels: cut(labels) };
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
