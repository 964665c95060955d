import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { CliError } from '../errors.js';

/** One turn of a conversation, as in transformers' `apply_chat_template` and TRL's datasets. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** The special tokens a template may print (`{{ bos_token }}`), from tokenizer_config.json. */
const TOKEN_NAMES = ['bos_token', 'eos_token', 'pad_token', 'unk_token', 'sep_token', 'cls_token'];

/**
 * A model's chat template (tokenizer_config.json's `chat_template`, or the `chat_template.jinja` file that
 * transformers ≥ 4.50 writes beside it), rendered by @huggingface/jinja, Hugging Face's Jinja for
 * JavaScript — the same engine transformers.js uses, so a template renders as it does in Python.
 */
export class ChatTemplate {
  readonly #template: Template;
  readonly #tokens: Record<string, string>;

  /** `source` is the template text; `where` names it in errors. */
  constructor(
    source: string,
    tokens: Record<string, string> = {},
    readonly where = 'chat_template',
  ) {
    try {
      this.#template = new Template(source);
    } catch (cause) {
      throw new CliError(`${where} is not a valid Jinja template: ${(cause as Error).message}`, { cause });
    }
    this.#tokens = tokens;
  }

  /** The text of `messages`, ending with the assistant header when `addGenerationPrompt` (for generation). */
  render(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    try {
      // The engine provides transformers' raise_exception(message); templates call it to refuse e.g. roles
      // out of order, and its message is passed on.
      return this.#template.render({
        ...this.#tokens,
        messages,
        add_generation_prompt: options.addGenerationPrompt ?? false,
      });
    } catch (cause) {
      throw new CliError(`${this.where} failed to render the conversation: ${(cause as Error).message}`, {
        cause,
      });
    }
  }
}

/** A special token stored as a string or as transformers' AddedToken object ({"content": …}). */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string')
    return (value as { content: string }).content;
  return undefined;
}

/**
 * The chat template of a model folder, or undefined when it has none. A list of named templates (the
 * older multi-template format) yields the one named "default".
 */
export function loadChatTemplate(modelDir: string): ChatTemplate | undefined {
  const configPath = join(modelDir, 'tokenizer_config.json');
  const config = existsSync(configPath)
    ? (JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>)
    : {};
  const tokens: Record<string, string> = {};
  for (const name of TOKEN_NAMES) {
    const text = tokenText(config[name]);
    if (text !== undefined) tokens[name] = text;
  }
  let source = config.chat_template;
  let where = `${configPath} chat_template`;
  if (Array.isArray(source)) {
    const named = source as { name?: unknown; template?: unknown }[];
    source = named.find((entry) => entry.name === 'default')?.template;
    where = `${configPath} chat_template "default"`;
  }
  const jinjaPath = join(modelDir, 'chat_template.jinja');
  if (typeof source !== 'string' && existsSync(jinjaPath)) {
    source = readFileSync(jinjaPath, 'utf8');
    where = jinjaPath;
  }
  return typeof source === 'string' ? new ChatTemplate(source, tokens, where) : undefined;
}
