import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTokenizer } from '@lorakit/models';
import { describe, expect, it } from 'vitest';
import { chatMessages, tokenizeConversation } from './chat-examples.js';
import { type ChatMessage, ChatTemplate, loadChatTemplate } from './chat-template.js';

// Written by test-data/chat-qwen2/make.py with transformers' apply_chat_template: the chat templates of
// Qwen/Qwen2-0.5B-Instruct and meta-llama/Meta-Llama-3-8B-Instruct, their renderings and token ids.
const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-data', 'chat-qwen2');
const modelDir = join(fixtureDir, 'model');
interface Case {
  messages: ChatMessage[];
  text: string;
  prompt: string;
  ids?: number[];
}
const expected = JSON.parse(readFileSync(join(fixtureDir, 'expected.json'), 'utf8')) as {
  templates: { name: string; template: string; tokens: Record<string, string>; cases: Case[] }[];
};

describe('ChatTemplate renders as transformers does', () => {
  for (const { name, template, tokens, cases } of expected.templates) {
    it(`${name}: whole conversations and generation prompts`, () => {
      const chat = new ChatTemplate(template, tokens);
      for (const { messages, text, prompt } of cases) {
        expect(chat.render(messages)).toBe(text);
        expect(chat.render(messages.slice(0, -1), { addGenerationPrompt: true })).toBe(prompt);
      }
    });
  }

  it("loads the template and special tokens from a model folder's tokenizer_config.json", () => {
    const chat = loadChatTemplate(modelDir);
    const qwen2 = expected.templates.find((t) => t.name === 'qwen2')!;
    expect(chat?.render(qwen2.cases[0]!.messages)).toBe(qwen2.cases[0]!.text);
  });
});

describe('tokenizeConversation', () => {
  it('gives the ids of apply_chat_template(tokenize=True) and labels only on assistant turns', async () => {
    const tokenizer = await loadTokenizer(modelDir);
    const chat = loadChatTemplate(modelDir)!;
    const qwen2 = expected.templates.find((t) => t.name === 'qwen2')!;
    for (const { messages, ids } of qwen2.cases) {
      const { inputIds, labels } = tokenizeConversation(messages, chat, tokenizer, { where: 'test' });
      expect(inputIds).toEqual(ids);
      expect(labels).toHaveLength(inputIds.length);
      // The trained tokens are exactly each assistant reply with its end-of-turn token and newline.
      const trained = labels.map((label, i) => (label === -100 ? -1 : inputIds[i]!));
      const runs = trained
        .join(',')
        .split(/(?:^|,)-1(?=,|$)/)
        .map((run) => run.replace(/^,|,$/g, ''))
        .filter(Boolean)
        .map((run) => tokenizer.decode(run.split(',').map(Number)));
      expect(runs).toEqual(
        messages.filter((m) => m.role === 'assistant').map((m) => `${m.content}<|im_end|>\n`),
      );
      const all = tokenizeConversation(messages, chat, tokenizer, { where: 'test', assistantOnly: false });
      expect(all).toEqual({ inputIds, labels: inputIds });
    }
  });

  it('refuses a template that rewrites earlier turns', async () => {
    const tokenizer = await loadTokenizer(modelDir);
    // Drops every assistant turn but the last (as reasoning templates drop old thoughts).
    const rewriting = new ChatTemplate(
      "{% for m in messages %}{% if m.role != 'assistant' or loop.last %}[{{ m.role }}]{{ m.content }}{% endif %}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}",
      {},
      'rewriting.jinja',
    );
    const messages = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
      { role: 'assistant', content: 'd' },
    ];
    expect(() => tokenizeConversation(messages, rewriting, tokenizer, { where: 'chat.jsonl:3' })).toThrow(
      'chat.jsonl:3: rewriting.jinja does not render the conversation incrementally (the text up to assistant message 1 is not a prefix of the whole), so the assistant tokens cannot be found; train on "text" records rendered beforehand instead',
    );
  });
});

describe('chat errors', () => {
  it('names a template that does not parse', () => {
    expect(
      () => new ChatTemplate('{% for m in messages %}', {}, 'x/tokenizer_config.json chat_template'),
    ).toThrow(/^x\/tokenizer_config\.json chat_template is not a valid Jinja template: /);
  });

  it("passes the template's raise_exception message on", () => {
    const strict = new ChatTemplate(
      "{% if messages[0].role != 'user' %}{{ raise_exception('Conversation roles must start with user') }}{% endif %}",
      {},
      'strict.jinja',
    );
    expect(() => strict.render([{ role: 'assistant', content: 'hi' }])).toThrow(
      'strict.jinja failed to render the conversation: Conversation roles must start with user',
    );
  });

  it('checks the messages of a record', () => {
    expect(() => chatMessages([], 'chat.jsonl:1')).toThrow(
      'chat.jsonl:1: "messages" must be a non-empty array of {"role", "content"} objects, received []',
    );
    expect(() => chatMessages([{ role: 'user', content: 3 }], 'chat.jsonl:2')).toThrow(
      'chat.jsonl:2: messages[0] must be {"role": string, "content": string}, received {"role":"user","content":3}',
    );
    expect(() => chatMessages([{ role: 'user', content: 'hi' }], 'chat.jsonl:3')).toThrow(
      'chat.jsonl:3: the conversation has no "assistant" message, so nothing would be trained (roles: user)',
    );
  });

  it('reads chat_template.jinja when tokenizer_config.json has no template, and nothing when neither exists', () => {
    const dir = join(tmpdir(), `lorakit-chat-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"eos_token": {"content": "</s>"}}');
    expect(loadChatTemplate(dir)).toBeUndefined();
    writeFileSync(
      join(dir, 'chat_template.jinja'),
      '{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}',
    );
    expect(loadChatTemplate(dir)?.render([{ role: 'user', content: 'hi' }])).toBe('hi</s>');
  });
});
