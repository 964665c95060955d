import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeShiftJsonl } from './fixtures.js';
import { lorakit, packageDir, temporaryDirectory } from './run-cli.js';

// Tiny T5, Phi-3 and BERT-classifier folders written by transformers' save_pretrained
// (test-data/families/generate.py), with the demo's character tokenizer.
const families = join(packageDir, 'test-data', 'families');
const t5 = join(families, 't5');
const phi3 = join(families, 'phi3');
const bertCls = join(families, 'bert-cls');

const WORDS = ['cab', 'dog', 'fig', 'hat', 'jet', 'kin', 'log', 'mud', 'nap', 'owl', 'pig', 'rug'];

interface TrainResult {
  steps: number;
  losses: { step: number; loss: number }[];
}

describe('lorakit train and generate on more model families', () => {
  let dir: string;
  beforeAll(() => {
    dir = temporaryDirectory();
  });

  it('T5: trains on input/target JSONL and generates with the adapter', () => {
    const data = join(dir, 'reverse.jsonl');
    const lines = WORDS.map((w) =>
      JSON.stringify({ input: `reverse: ${w}`, target: [...w].reverse().join('') }),
    );
    writeFileSync(data, `${lines.join('\n')}\n`);
    const out = join(dir, 't5-adapter');
    const run = lorakit([
      'train',
      '--model',
      t5,
      '--data',
      data,
      '--out',
      out,
      '--r',
      '4',
      '--target-modules',
      'q,k,v,o,wi_0,wi_1,wo',
      '--lr',
      '2e-2',
      '--batch-size',
      '6',
      '--epochs',
      '8',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = run.json<TrainResult>();
    expect(result.steps).toBe(16);
    expect(result.losses.at(-1)!.loss).toBeLessThan(result.losses[0]!.loss * 0.6);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(config.task_type).toBe('SEQ_2_SEQ_LM');
    expect([...config.target_modules].sort()).toEqual(['k', 'o', 'q', 'v', 'wi_0', 'wi_1', 'wo']);

    const generated = lorakit([
      'generate',
      '--model',
      t5,
      '--adapter',
      out,
      '--prompt',
      'reverse: dog',
      '--prompt',
      'reverse: cab',
      '--max-new-tokens',
      '5',
      '--json',
    ]);
    expect(generated.stderr).toBe('');
    const completions = generated.json<{
      completions: { prompt: string; completion: string; tokens: number }[];
    }>().completions;
    expect(completions.map((c) => c.prompt)).toEqual(['reverse: dog', 'reverse: cab']);
    for (const c of completions) expect(c.tokens).toBeGreaterThan(0);
  });

  it('T5: the PEFT default target modules (q, v) when none are given', () => {
    const data = join(dir, 'pairs.jsonl');
    writeFileSync(data, `${WORDS.map((w) => JSON.stringify({ input: w, target: w })).join('\n')}\n`);
    const out = join(dir, 't5-default');
    const run = lorakit(['train', '--model', t5, '--data', data, '--out', out, '--max-steps', '1', '--json']);
    expect(run.stderr).toBe('');
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect([...config.target_modules].sort()).toEqual(['q', 'v']);
  });

  it('Phi-3: trains the fused qkv_proj/gate_up_proj on prompt/completion JSONL and generates', () => {
    const data = writeShiftJsonl(join(dir, 'phi3-data'), 24);
    const out = join(dir, 'phi3-adapter');
    const run = lorakit([
      'train',
      '--model',
      phi3,
      '--data',
      data,
      '--out',
      out,
      '--target-modules',
      'qkv_proj,gate_up_proj',
      '--lr',
      '2e-2',
      '--max-steps',
      '6',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    const result = run.json<TrainResult>();
    expect(result.losses.at(-1)!.loss).toBeLessThan(result.losses[0]!.loss);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(true);
    const generated = lorakit([
      'generate',
      '--model',
      phi3,
      '--adapter',
      out,
      '--prompt',
      'shift: abc|',
      '--max-new-tokens',
      '4',
      '--json',
    ]);
    expect(generated.stderr).toBe('');
    expect(generated.json<{ completions: { tokens: number }[] }>().completions[0]!.tokens).toBeGreaterThan(0);
  });

  it('BERT classifier: trains on text/label JSONL (label ids or label2id names) and saves the head', () => {
    const data = join(dir, 'labels.jsonl');
    const lines = WORDS.map((w, i) => JSON.stringify({ text: w, label: i % 2 === 0 ? 'neg' : 1 }));
    writeFileSync(data, `${lines.join('\n')}\n`);
    const out = join(dir, 'bert-adapter');
    const run = lorakit([
      'train',
      '--model',
      bertCls,
      '--data',
      data,
      '--out',
      out,
      '--max-steps',
      '3',
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.json<TrainResult>().steps).toBe(3);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(config.task_type).toBe('SEQ_CLS');
    expect(config.modules_to_save).toContain('classifier');
  });

  describe('data that does not fit the model is refused before training (exit 2, one line)', () => {
    it('a BERT classifier given text without labels', () => {
      const data = join(dir, 'no-labels.jsonl');
      writeFileSync(data, '{"text": "cab", "label": 0}\n{"text": "dog"}\n');
      const run = lorakit(['train', '--model', bertCls, '--data', data, '--out', join(dir, 'bad')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: ${data}:2 does not fit BertForSequenceClassification, a sequence classifier with 2 labels: --data must hold JSONL lines with "text" and "label" (label: a class id 0…1 or a name in label2id (neg, pos))`,
      );
    });

    it('a label the classifier does not have', () => {
      const data = join(dir, 'bad-label.jsonl');
      writeFileSync(data, '{"text": "cab", "label": "maybe"}\n');
      const run = lorakit(['train', '--model', bertCls, '--data', data, '--out', join(dir, 'bad')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: ${data}:1: label "maybe" is not a label of BertForSequenceClassification; use a class id 0…1 or a name in label2id (neg, pos)`,
      );
    });

    it('T5 given plain text', () => {
      const data = join(dir, 'plain.txt');
      writeFileSync(data, 'cab\ndog\n');
      const run = lorakit(['train', '--model', t5, '--data', data, '--out', join(dir, 'bad')]);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: ${data}:1 does not fit T5ForConditionalGeneration, a sequence-to-sequence model: --data must hold JSONL lines with "input" and "target" (or "prompt" and "completion")`,
      );
    });
  });
});
