import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraConfig, type PeftModel } from '@lorakit/lora';
import {
  loadModel,
  loadTokenizer,
  type ModelOutput,
  type PreTrainedModel,
  type Tokenizer,
} from '@lorakit/models';
import { noGrad, type Tensor } from '@lorakit/tensor';
import type { CommandContext } from '../context.js';
import { summarizeAdapter } from '../inspect/adapter-summary.js';
import { mergeToCheckpoint } from '../merging/merge-checkpoint.js';
import { formatBytes } from '../paths.js';
import { writeLossCurve } from '../plot/loss-curve.js';
import { finetune } from '../training/finetune.js';
import { exactMatch } from './accuracy.js';
import { demoBaseDir } from './package-root.js';
import { example, heldOutWords, jsonlLines, SEEDS, solve, trainingWords } from './task-language.js';

export interface DemoOptions {
  readonly out: string;
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly r: number;
  readonly heldOut: number;
}

/** The demo's LoRA config: every linear layer of the attention and the MLP, r = alpha (scaling 1). */
export function demoLoraConfig(r: number): LoraConfig {
  return new LoraConfig({
    r,
    loraAlpha: r,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    taskType: 'CAUSAL_LM',
  });
}

function percent(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

function maxAbsDifference(a: Tensor, b: Tensor): number {
  return a.sub(b).abs().max().item();
}

/**
 * The main job: fine-tune the shipped base model (pretrained to copy letters) with LoRA to shift them,
 * measure held-out exact-match accuracy before and after, save a PEFT adapter and a loss curve, merge
 * the adapter into a full checkpoint (checking that the merged model's logits equal the adapter's), and
 * show sample answers. Returns the numbers for --json.
 */
export async function runDemo(
  context: CommandContext,
  options: DemoOptions,
  backend: string,
): Promise<Record<string, unknown>> {
  const timings: Record<string, number> = {};
  const started = performance.now();
  let mark = started;
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = (now - mark) / 1000;
    mark = now;
  };

  const baseDir = demoBaseDir();
  mkdirSync(options.out, { recursive: true });
  const words = heldOutWords(options.heldOut);
  const prompts = words.map((w) => example('shift', w).prompt);
  const answers = words.map((w) => solve('shift', w));
  const copyPrompts = words.map((w) => example('copy', w).prompt);
  const dataPath = join(options.out, 'shift-train.jsonl');
  writeFileSync(
    dataPath,
    jsonlLines('shift', trainingWords(options.steps * options.batchSize, SEEDS.finetune)),
  );

  const model = await loadModel(baseDir);
  context.print(`lorakit demo — LoRA teaches a tiny language model a new task (backend: ${backend})`);
  context.print(`base model: ${baseDir}`);
  context.print(
    `  Llama, ${model.numParameters().toLocaleString('en-US')} parameters, pretrained (demo/pretrain.ts) to copy letters: "copy: abcde|abcde"`,
  );
  context.print(
    `task: "shift" — every letter moves one on: "shift: abcde|bcdef"; ${options.heldOut} held-out words\n`,
  );
  lap('load');

  const tokenizer = await loadTokenizer(baseDir);
  const before = exactMatch(model, tokenizer, prompts, answers);
  const copyBefore = exactMatch(model, tokenizer, copyPrompts, words);
  context.print(
    `before: shift accuracy ${percent(before.accuracy)} (copy accuracy ${percent(copyBefore.accuracy)})`,
  );
  lap('evaluate before');

  const bar = context.progress({ label: 'fine-tune', total: options.steps });
  const result = await finetune({
    modelDir: baseDir,
    dataPath,
    out: join(options.out, 'adapter'),
    model,
    loraConfig: demoLoraConfig(options.r),
    settings: {
      maxSteps: options.steps,
      batchSize: options.batchSize,
      gradientAccumulation: 1,
      learningRate: options.learningRate,
      weightDecay: 0,
      schedule: 'linear',
      warmupSteps: Math.min(5, Math.floor(options.steps / 4)),
      seed: SEEDS.finetune,
      evalSplit: 0,
      maxLength: 32,
    },
    onStart: (info) => context.print(`LoRA r=${options.r} on q,k,v,o,gate,up,down_proj — ${info.trainable}`),
    onStep: (info) => {
      const rate = info.tokens !== undefined ? (info.tokens / info.stepMs) * 1000 : 0;
      bar.update(
        info.step,
        `loss ${info.loss.toFixed(4)}  ${Math.round(rate).toLocaleString('en-US')} tok/s`,
      );
    },
  });
  bar.finish();
  lap('fine-tune');
  const { peft } = result;
  const lossFirst = result.losses[0]?.loss ?? Number.NaN;
  const lossLast = result.losses.at(-1)?.loss ?? Number.NaN;
  context.print(
    `fine-tuned ${result.steps} steps in ${timings['fine-tune']!.toFixed(1)} s (${Math.round(result.tokens / (result.trainMs / 1000)).toLocaleString('en-US')} tok/s): loss ${lossFirst.toFixed(3)} → ${lossLast.toFixed(3)}`,
  );

  const after = exactMatch(peft.model as PreTrainedModel, tokenizer, prompts, answers);
  const copyAfter = peft.withAdaptersDisabled(() =>
    exactMatch(peft.model as PreTrainedModel, tokenizer, copyPrompts, words),
  );
  context.print(
    `after:  shift accuracy ${percent(after.accuracy)} (adapter disabled: copy accuracy ${percent(copyAfter.accuracy)})`,
  );
  lap('evaluate after');

  const adapterDir = join(options.out, 'adapter');
  const summary = summarizeAdapter(adapterDir);
  context.print(
    `\nadapter (PEFT format): ${adapterDir} — ${summary.modules.length} modules, r=${options.r}, ${summary.parameters.toLocaleString('en-US')} parameters, ${formatBytes(summary.bytesOnDisk)}${summary.warnings.length ? `; warnings: ${summary.warnings.join('; ')}` : ''}`,
  );
  const lossCurve = join(options.out, 'loss.png');
  await writeLossCurve(lossCurve, result.losses, { title: 'lorakit demo: lora fine-tuning on shift' });
  context.print(`loss curve: ${lossCurve}`);
  lap('save');

  const mergedDir = join(options.out, 'merged');
  const merge = await mergeToCheckpoint(
    { model: baseDir, adapter: adapterDir, out: mergedDir, safe: true, maxShardSize: '5GB' },
    () => {},
  );
  const mergedModel = await loadModel(mergedDir);
  mergedModel.eval();
  const check = tokenizer.encodeBatch(
    prompts.slice(0, 32).map((p, i) => p + answers[i]),
    { paddingSide: 'left' },
  );
  const difference = noGrad(() => {
    const unmerged = (
      peft.call({ inputIds: check.inputIds, attentionMask: check.attentionMask }) as ModelOutput
    ).logits;
    const merged = mergedModel.call({ inputIds: check.inputIds, attentionMask: check.attentionMask }).logits;
    return maxAbsDifference(unmerged, merged);
  });
  const mergedAccuracy = exactMatch(mergedModel, tokenizer, prompts, answers).accuracy;
  const mergeOk = difference <= 1e-4;
  context.print(
    `merged checkpoint (${merge.mode}, safe merge): ${mergedDir} — logits equal the adapter's: max |Δ| ${difference.toExponential(1)} ${mergeOk ? '≤' : '>'} 1e-4; shift accuracy ${percent(mergedAccuracy)}`,
  );
  lap('merge');

  context.print('\nsamples (held-out words):');
  const samples = samplesTable(peft, tokenizer, words.slice(0, 6));
  for (const s of samples) {
    context.print(
      `  ${s.prompt.padEnd(14)} base → ${s.base.padEnd(6)} ${s.base === s.expected ? '✓' : '✗'}   adapted → ${s.adapted.padEnd(6)} ${s.adapted === s.expected ? '✓' : '✗'}`,
    );
  }
  lap('samples');
  const total = (performance.now() - started) / 1000;
  context.print(
    `\ntimings: ${Object.entries(timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)} s`)
      .join(', ')}; total ${total.toFixed(1)} s`,
  );
  if (!mergeOk) throw new Error(`merged logits differ from the adapter's by ${difference} (> 1e-4)`);
  return {
    backend,
    baseModel: baseDir,
    heldOut: options.heldOut,
    accuracyBefore: before.accuracy,
    accuracyAfter: after.accuracy,
    copyAccuracyBefore: copyBefore.accuracy,
    copyAccuracyAdapterDisabled: copyAfter.accuracy,
    mergedAccuracy,
    steps: result.steps,
    lossFirst,
    lossLast,
    adapter: adapterDir,
    lossCurve,
    merged: mergedDir,
    mergeMaxAbsDifference: difference,
    samples,
    timings,
    seconds: total,
  };
}

function samplesTable(peft: PeftModel, tokenizer: Tokenizer, words: readonly string[]) {
  const prompts = words.map((w) => example('shift', w).prompt);
  const expected = words.map((w) => solve('shift', w));
  const model = peft.model as PreTrainedModel;
  const base = peft.withAdaptersDisabled(() => exactMatch(model, tokenizer, prompts, expected).outputs);
  const adapted = exactMatch(model, tokenizer, prompts, expected).outputs;
  return words.map((_, i) => ({
    prompt: prompts[i]!,
    expected: expected[i]!,
    base: base[i]!,
    adapted: adapted[i]!,
  }));
}
