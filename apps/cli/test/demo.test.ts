import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findReferencePython, runPython } from '@lorakit/bench-tools';
import { loadAdapter } from '@lorakit/lora';
import { loadModel, type ModelOutput } from '@lorakit/models';
import { noGrad, tensor } from '@lorakit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

interface DemoResult {
  accuracyBefore: number;
  accuracyAfter: number;
  copyAccuracyBefore: number;
  steps: number;
  adapter: string;
  merged: string;
  lossCurve: string;
  mergeMaxAbsDifference: number;
  samples: { prompt: string; base: string; adapted: string; expected: string }[];
  timings: Record<string, number>;
}

const INPUT = [[1, 24, 13, 14, 11, 25, 4, 3, 6, 7, 8, 9, 10, 5, 7, 8]];

describe('lorakit demo (shortened: 6 steps)', () => {
  let out: string;
  let result: DemoResult;
  beforeAll(() => {
    out = join(temporaryDirectory(), 'demo');
    const run = lorakit(['demo', '--out', out, '--steps', '6', '--held-out', '20', '--json']);
    expect(run.code, run.stderr).toBe(0);
    result = run.json<DemoResult>();
  });

  it('measures the base before (0% on the new task, 100% on the pretraining task) and writes its outputs', () => {
    expect(result.accuracyBefore).toBe(0);
    expect(result.copyAccuracyBefore).toBe(1);
    expect(result.steps).toBe(6);
    expect(result.samples).toHaveLength(6);
    expect(result.mergeMaxAbsDifference).toBeLessThanOrEqual(1e-4);
    for (const path of [result.adapter, result.merged, result.lossCurve])
      expect(existsSync(path), path).toBe(true);
    expect(Object.keys(result.timings)).toEqual([
      'load',
      'evaluate before',
      'fine-tune',
      'evaluate after',
      'save',
      'merge',
      'samples',
    ]);
  });

  it('prints the story for a person without --json', () => {
    const run = lorakit([
      'demo',
      '--out',
      join(temporaryDirectory(), 'human'),
      '--steps',
      '2',
      '--held-out',
      '8',
    ]);
    expect(run.code, run.stderr).toBe(0);
    for (const text of [
      'before: shift accuracy 0%',
      'after:  shift accuracy',
      'adapter (PEFT format)',
      'loss curve:',
      'logits equal the adapter',
      'samples (held-out words):',
      'timings:',
    ]) {
      expect(run.stdout).toContain(text);
    }
  });

  it('passes lorakit inspect with no warnings', () => {
    const run = lorakit(['inspect', result.adapter, '--strict', '--json']);
    expect(run.code, run.stdout).toBe(0);
    const summary = run.json<{ modules: { rank: number }[]; config: Record<string, unknown> }>();
    expect(summary.modules).toHaveLength(14);
    expect(summary.modules.every((m) => m.rank === 16)).toBe(true);
    expect(summary.config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 16,
      lora_alpha: 16,
    });
  });

  const reference = findReferencePython(['torch', 'transformers', 'peft']);
  it.skipIf(!reference.python)(
    `loads in Python PEFT with the same logits${reference.python ? '' : ` — skipped: ${reference.reason}`}`,
    async () => {
      const script = [
        'import json, torch',
        'from transformers import AutoModelForCausalLM',
        'from peft import PeftModel',
        `base_dir, adapter_dir, merged_dir = ${JSON.stringify([demoBase, result.adapter, result.merged])}`,
        `ids = torch.tensor(${JSON.stringify(INPUT)})`,
        'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), adapter_dir).eval()',
        'merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()',
        'with torch.no_grad():',
        '    adapted = model(input_ids=ids).logits',
        '    merged_logits = merged(input_ids=ids).logits',
        'print(json.dumps({"logits": adapted[0].tolist(), "merged_vs_adapter": (adapted - merged_logits).abs().max().item()}))',
      ].join('\n');
      const python = runPython<{ logits: number[][]; merged_vs_adapter: number }>(reference.python!, script);
      expect(python.merged_vs_adapter).toBeLessThan(1e-4);
      const peft = loadAdapter(await loadModel(demoBase), result.adapter);
      const ours = noGrad(
        () => (peft.call({ inputIds: tensor(INPUT, { dtype: 'int64' }) }) as ModelOutput).logits,
      );
      const difference = ours
        .sub(tensor([python.logits]))
        .abs()
        .max()
        .item();
      expect(difference).toBeLessThan(1e-4);
    },
  );
});
