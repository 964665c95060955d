import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDataDir } from '../test/helpers.js';
import { loadTokenizer, TokenizerError } from './index.js';

// test-data/tokenizer: a byte-level BPE trained by generate.py with the `tokenizers` Python package, and
// the ids, tokens and decoded text that package gives for a few strings.
const dir = join(testDataDir, 'tokenizer');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
  vocab_size: number;
  samples: { text: string; ids: number[]; tokens: string[]; decoded: string; decoded_skip_special: string }[];
};

describe('loadTokenizer', () => {
  for (const sample of expected.samples) {
    it(`encodes and decodes ${JSON.stringify(sample.text)} as the tokenizers package does`, async () => {
      const tokenizer = await loadTokenizer(dir);
      const ids = tokenizer.encode(sample.text);
      expect(ids).toEqual(sample.ids);
      expect(ids.map((id) => tokenizer.idToToken(id))).toEqual(sample.tokens);
      expect(tokenizer.decode(ids)).toBe(sample.decoded);
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(sample.decoded_skip_special);
    });
  }

  it('knows the special tokens from tokenizer_config.json and pads batches', async () => {
    const tokenizer = await loadTokenizer(dir);
    const eos = tokenizer.tokenToId('<|endoftext|>')!;
    expect(tokenizer.eosTokenId).toBe(eos);
    expect(tokenizer.vocabSize).toBe(expected.vocab_size);
    const { inputIds, attentionMask } = tokenizer.encodeBatch(['Hello world!', 'Hello'], {
      paddingSide: 'left',
    });
    const short = tokenizer.encode('Hello');
    const long = tokenizer.encode('Hello world!');
    expect(inputIds.dtype).toBe('int64');
    const pad = long.length - short.length;
    expect(inputIds.toList()).toEqual([long, [...new Array(pad).fill(eos), ...short]]);
    expect(attentionMask.toList()).toEqual([
      long.map(() => 1),
      [...new Array(pad).fill(0), ...short.map(() => 1)],
    ]);
    expect(tokenizer.decode(inputIds.select(0, 1), { skipSpecialTokens: true })).toBe('Hello');
  });

  it('explains a folder without tokenizer.json', async () => {
    await expect(loadTokenizer(join(testDataDir, 'gpt2'))).rejects.toThrow(
      new TokenizerError(
        `[loadTokenizer] ${join(testDataDir, 'gpt2')} has no tokenizer.json (only fast tokenizers are supported; convert a slow one with transformers' AutoTokenizer and save_pretrained)`,
      ),
    );
  });
});
