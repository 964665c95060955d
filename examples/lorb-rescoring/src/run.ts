import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLossCurve } from '@lorakit/cli/src/plot/loss-curve.js';
import { createModel, type PreTrainedModel } from '@lorakit/models';
import { manualSeed } from '@lorakit/tensor';
import { makeNbestData, type Utterance, wordErrorRate } from './nbest.js';
import { bertConfig, pretrainMlm, Rescorer, trainRescorer, withLora } from './rescorer.js';

/** The sizes of one run; `SMALL` is what the tests and CI use. */
export interface Setting {
  readonly hidden: number;
  readonly layers: number;
  readonly pretrainSteps: number;
  readonly trainUtterances: number;
  readonly testUtterances: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly rank: number;
  /** AdamW learning rate of the LoRA run (full fine-tuning uses 1e-3). */
  readonly loraLearningRate: number;
  readonly correlationWeight: number;
}

export const FULL: Setting = {
  hidden: 64,
  layers: 2,
  pretrainSteps: 300,
  trainUtterances: 1000,
  testUtterances: 400,
  steps: 200,
  batchSize: 8,
  rank: 1,
  loraLearningRate: 1e-2,
  correlationWeight: 0.1,
};

export const SMALL: Setting = {
  hidden: 64,
  layers: 2,
  pretrainSteps: 40,
  trainUtterances: 64,
  testUtterances: 48,
  steps: 12,
  batchSize: 4,
  rank: 1,
  loraLearningRate: 1e-2,
  correlationWeight: 0.1,
};

export interface RunRow {
  readonly system: string;
  readonly wer: number;
  readonly trainable: number;
  readonly fraction: number;
  readonly seconds: number;
  /** Median training step, milliseconds. */
  readonly stepMs: number;
}

export interface Report {
  readonly setting: Setting;
  readonly oracleWer: number;
  readonly rows: RunRow[];
  readonly pretrainLoss: { first: number; last: number };
  readonly plot: string;
}

function evaluateWer(rescorer: Rescorer, test: readonly Utterance[]): number {
  const choices = rescorer.choose(test);
  return wordErrorRate(test, (_, i) => choices[i]!);
}

/**
 * The whole experiment: synthetic n-best data, MLM pretraining of a small BERT, then two rescorers
 * trained with MWER (+ the correlation regularizer) from the same pretrained weights — LoRB (LoRA on
 * query/value and the scoring head) and full fine-tuning — and the WER of each on held-out utterances.
 */
export async function runExperiment(setting: Setting, outDir: string, log = console.log): Promise<Report> {
  mkdirSync(outDir, { recursive: true });
  const train = makeNbestData({ utterances: setting.trainUtterances, seed: 1 });
  const test = makeNbestData({ utterances: setting.testUtterances, seed: 2 });
  const dev = makeNbestData({ utterances: 32, seed: 7 });
  const corpus = makeNbestData({ utterances: 2000, seed: 3, size: 1 }).map((u) => u.reference);

  manualSeed(0);
  const pretrained = createModel(bertConfig(setting.hidden, setting.layers)) as PreTrainedModel;
  log(
    `pretraining a ${pretrained.numParameters().toLocaleString('en-US')}-parameter BERT (masked LM, ${setting.pretrainSteps} steps)`,
  );
  const mlm = await pretrainMlm(pretrained, corpus, {
    steps: setting.pretrainSteps,
    batchSize: 32,
    learningRate: 3e-3,
    seed: 4,
  });

  const firstPass = wordErrorRate(test, () => 0);
  const oracleWer = wordErrorRate(test, (u) =>
    u.nbest.reduce((best, h, i) => (h.errors < u.nbest[best]!.errors ? i : best), 0),
  );
  const rows: RunRow[] = [
    { system: 'first pass', wer: firstPass, trainable: 0, fraction: 0, seconds: 0, stepMs: 0 },
  ];
  const options = {
    steps: setting.steps,
    batchSize: setting.batchSize,
    correlationWeight: setting.correlationWeight,
    seed: 5,
  };

  manualSeed(6);
  const peft = withLora(pretrained.deepCopy(), setting.rank);
  const lorb = new Rescorer(peft, setting.hidden);
  const loraParameters = [...peft.parameters().filter((p) => p.requiresGrad), ...lorb.head.parameters()];
  log(
    `LoRB: rank-${setting.rank} LoRA on query/value + scoring head, MWER + correlation loss, ${setting.steps} steps`,
  );
  const lorbRun = await trainRescorer(lorb, loraParameters, train, {
    ...options,
    learningRate: setting.loraLearningRate,
    dev,
    evaluateEvery: Math.max(1, Math.round(setting.steps / 12)),
  });
  rows.push({
    system: `LoRB (LoRA r=${setting.rank})`,
    wer: evaluateWer(lorb, test),
    trainable: lorbRun.trainable,
    fraction: lorbRun.trainable / lorbRun.total,
    seconds: lorbRun.seconds,
    stepMs: lorbRun.medianStepMs,
  });

  manualSeed(6);
  const full = new Rescorer(pretrained.deepCopy(), setting.hidden);
  const allParameters = [...full.model.parameters(), ...full.head.parameters()];
  log(`full fine-tuning: every BERT weight + scoring head, same objective, ${setting.steps} steps`);
  const fullRun = await trainRescorer(full, allParameters, train, { ...options, learningRate: 1e-3 });
  rows.push({
    system: 'full fine-tuning',
    wer: evaluateWer(full, test),
    trainable: fullRun.trainable,
    fraction: fullRun.trainable / fullRun.total,
    seconds: fullRun.seconds,
    stepMs: fullRun.medianStepMs,
  });

  const plot = join(outDir, 'lorb-loss.png');
  await writeLossCurve(plot, lorbRun.losses, {
    evaluation: lorbRun.devLosses,
    title: 'LoRB: train MWER and correlation loss, eval MWER on held-out lists',
  });
  const report: Report = {
    setting,
    oracleWer,
    rows,
    pretrainLoss: { first: mlm[0] ?? Number.NaN, last: mlm.at(-1) ?? Number.NaN },
    plot,
  };
  writeFileSync(join(outDir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  return report;
}

/** The report as a Markdown table (the README shows the full setting's). */
export function formatReport(report: Report): string {
  const percent = (x: number) => `${(100 * x).toFixed(1)} %`;
  const full = report.rows.find((r) => r.system === 'full fine-tuning');
  const lines = [
    '| system | test WER | trainable parameters | fraction of the model | training time | median step | step time vs full fine-tuning |',
    '|---|---|---|---|---|---|---|',
    ...report.rows.map((r) => {
      if (r.seconds === 0) return `| ${r.system} | ${percent(r.wer)} | — | — | — | — | — |`;
      const ratio = full ? `${(r.stepMs / full.stepMs).toFixed(2)}×` : '—';
      return `| ${r.system} | ${percent(r.wer)} | ${r.trainable.toLocaleString('en-US')} | ${(100 * r.fraction).toFixed(2)} % | ${r.seconds.toFixed(1)} s | ${r.stepMs.toFixed(0)} ms | ${ratio} |`;
    }),
    '',
    `Oracle WER of the n-best lists: ${percent(report.oracleWer)}. Masked-LM pretraining loss ${report.pretrainLoss.first.toFixed(2)} → ${report.pretrainLoss.last.toFixed(2)}.`,
  ];
  return lines.join('\n');
}
