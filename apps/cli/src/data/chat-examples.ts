import type { Tokenizer } from '@lorakit/models';
import { CliError } from '../errors.js';
import type { ChatMessage, ChatTemplate } from './chat-template.js';

/** A JSONL record of a conversation: {"messages": [{"role": …, "content": …}, …]}. */
export interface ChatRecord {
  readonly messages: readonly ChatMessage[];
}

/**
 * The record's `messages` checked: a non-empty array of {role, content} strings with at least one
 * assistant turn (the tokens that are trained). `where` is "file:line" for errors.
 */
export function chatMessages(value: unknown, where: string): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new CliError(
      `${where}: "messages" must be a non-empty array of {"role", "content"} objects, received ${JSON.stringify(value)?.slice(0, 80)}`,
    );
  }
  const messages = value.map((message, index) => {
    const record = message as Record<string, unknown> | null;
    if (!record || typeof record.role !== 'string' || typeof record.content !== 'string') {
      throw new CliError(
        `${where}: messages[${index}] must be {"role": string, "content": string}, received ${JSON.stringify(message)?.slice(0, 80)}`,
      );
    }
    return { role: record.role, content: record.content };
  });
  if (!messages.some((message) => message.role === 'assistant')) {
    throw new CliError(
      `${where}: the conversation has no "assistant" message, so nothing would be trained (roles: ${messages.map((m) => m.role).join(', ')})`,
    );
  }
  return messages;
}

/**
 * Tokenizes a conversation with the model's chat template. With `assistantOnly` (the default), only the
 * assistant turns carry labels — each turn's text from the end of the prompt the template renders for it
 * (`add_generation_prompt`) through the end of the turn, including the template's end-of-turn token — and
 * everything else gets -100, as TRL's `assistant_only_loss` does. The template must render conversations
 * incrementally (each shorter conversation's text is a prefix of the longer one's), which holds for
 * ChatML, Llama 3, Mistral and Gemma templates; one that rewrites earlier turns is refused.
 *
 * Pieces are tokenized separately and without added special tokens (the template writes BOS itself, as in
 * `apply_chat_template(tokenize=True)`); templates put special tokens at the piece boundaries, so this
 * equals tokenizing the whole text.
 */
export function tokenizeConversation(
  messages: readonly ChatMessage[],
  template: ChatTemplate,
  tokenizer: Pick<Tokenizer, 'encode'>,
  options: { where: string; assistantOnly?: boolean },
): { inputIds: number[]; labels: number[] } {
  const full = template.render(messages);
  const pieces: { text: string; trained: boolean }[] = [];
  let cursor = 0;
  for (const [index, message] of messages.entries()) {
    if (message.role !== 'assistant') continue;
    const prompt = template.render(messages.slice(0, index), { addGenerationPrompt: true });
    const turn = template.render(messages.slice(0, index + 1));
    if (!(turn.startsWith(prompt) && full.startsWith(turn) && prompt.length >= cursor)) {
      throw new CliError(
        `${options.where}: ${template.where} does not render the conversation incrementally (the text up to assistant message ${index} is not a prefix of the whole), so the assistant tokens cannot be found; train on "text" records rendered beforehand instead`,
      );
    }
    pieces.push({ text: full.slice(cursor, prompt.length), trained: false });
    pieces.push({ text: full.slice(prompt.length, turn.length), trained: true });
    cursor = turn.length;
  }
  pieces.push({ text: full.slice(cursor), trained: false });
  const inputIds: number[] = [];
  const labels: number[] = [];
  const assistantOnly = options.assistantOnly ?? true;
  for (const piece of pieces) {
    if (piece.text === '') continue;
    const ids = tokenizer.encode(piece.text, { addSpecialTokens: false });
    inputIds.push(...ids);
    labels.push(...(piece.trained || !assistantOnly ? ids : ids.map(() => -100)));
  }
  return { inputIds, labels };
}
