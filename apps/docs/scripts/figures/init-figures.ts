import { join } from 'node:path';
import { evaConfig, initializeLoraEvaWeights } from '@lorakit/eva';
import { loftqFakeQuantizer, loftqInit } from '@lorakit/loftq';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { loadModel, loadTokenizer } from '@lorakit/models';
import { noGrad, svd, type Tensor } from '@lorakit/tensor';
import { repoRoot } from '../paths.js';
import { barChart, box, COLORS, spectrumChart, svgDocument, text } from './svg.js';

/** The tiny Llama the CLI demo ships: the figures are computed on its real weights. */
const demoModel = join(repoRoot, 'apps', 'cli', 'demo', 'base');
const LAYER = 'model.layers.0.self_attn.q_proj.weight';
const RANK = 8;

function values(tensor: Tensor): number[] {
  return Array.from(tensor.toArray() as ArrayLike<number>, Number);
}

function relativeError(weight: number[], approximation: number[]): number {
  let error = 0;
  let norm = 0;
  weight.forEach((w, i) => {
    error += (w - approximation[i]!) ** 2;
    norm += w * w;
  });
  return Math.sqrt(error / norm);
}

/** B·A of row-major factors (B [out, r], A [r, in]) as a flat row-major [out, in] array. */
function product(b: number[], a: number[], out: number, r: number, inFeatures: number): number[] {
  const result = new Array<number>(out * inFeatures).fill(0);
  for (let i = 0; i < out; i++)
    for (let k = 0; k < r; k++)
      for (let j = 0; j < inFeatures; j++)
        result[i * inFeatures + j]! += b[i * r + k]! * a[k * inFeatures + j]!;
  return result;
}

export async function initFigures(
  calibrationTexts: readonly string[],
): Promise<{ file: string; svg: string }[]> {
  const model = await loadModel(demoModel);
  const weight = model.stateDict().get(LAYER);
  if (!weight) throw new Error(`[docs] the demo model has no ${LAYER}`);
  const [out, inFeatures] = weight.shape as [number, number];
  const spectrum = noGrad(() => values(svd(weight).s));
  const figures: { file: string; svg: string }[] = [];

  figures.push({
    file: 'init-pissa.svg',
    svg: spectrumChart({
      title: `PiSSA on ${LAYER.replace('.weight', '')} (${out} × ${inFeatures}), r = ${RANK}`,
      subtitle:
        'singular values of the demo model’s weight: the top r start the adapter (trained), the rest stay in the frozen residual base',
      values: spectrum,
      colorOf: (i) => (i < RANK ? COLORS.blue : COLORS.gray),
      legend: [
        { color: COLORS.blue, label: `adapter B·A: top ${RANK} components` },
        { color: COLORS.gray, label: 'residual base W − s·B·A (frozen)' },
      ],
    }),
  });

  figures.push({
    file: 'init-corda.svg',
    svg: spectrumChart({
      title: 'CorDA: which components of W·C the adapter takes',
      subtitle:
        'shown on the same weight’s spectrum; CorDA decomposes W·C, C = the layer’s input covariance on your data',
      values: spectrum,
      colorOf: (i) => (i < RANK ? COLORS.orange : i >= spectrum.length - RANK ? COLORS.green : COLORS.gray),
      legend: [
        { color: COLORS.orange, label: 'ipm: adapt the r largest (task-focused)' },
        { color: COLORS.green, label: 'kpm: adapt the r smallest (keeps knowledge)' },
        { color: COLORS.gray, label: 'frozen' },
      ],
    }),
  });

  // LoftQ: relative error of the 4-bit base alone, and of Q + B·A after T alternating steps.
  const w = values(weight);
  const fake = loftqFakeQuantizer(4);
  const errors = [relativeError(w, Array.from(fake(Float32Array.from(w), out, inFeatures)))];
  const labels = ['NF4 base alone (QLoRA start)'];
  for (const iterations of [1, 2, 3, 5]) {
    const result = noGrad(() => loftqInit(weight, { bits: 4, rank: RANK, iterations }));
    const q = values(result.dequantized);
    const ba = product(values(result.loraB), values(result.loraA), out, RANK, inFeatures);
    errors.push(
      relativeError(
        w,
        q.map((value, i) => value + ba[i]!),
      ),
    );
    labels.push(`LoftQ, T = ${iterations}: Q + B·A`);
  }
  figures.push({
    file: 'init-loftq.svg',
    svg: barChart({
      title: `LoftQ: how far the 4-bit start is from W (r = ${RANK})`,
      subtitle: `‖W − start‖ / ‖W‖ on the demo model’s ${LAYER}, computed with @lorakit/loftq; lower is better`,
      categories: labels,
      series: [{ name: 'relative error', values: errors, color: COLORS.blue }],
      axisLabel: 'relative Frobenius error',
      format: (v) => v.toFixed(3),
    }),
  });

  // EVA: the ranks it hands out on the demo model, calibrated on a few examples.
  const tokenizer = await loadTokenizer(demoModel);
  const batches = [0, 4, 8, 12].map((start) => {
    const { inputIds, attentionMask } = tokenizer.encodeBatch(calibrationTexts.slice(start, start + 4));
    return { inputIds, attentionMask, labels: inputIds };
  });
  const peft = getPeftModel(
    await loadModel(demoModel),
    new LoraConfig({
      r: RANK,
      targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
      initLoraWeights: 'eva',
      evaConfig: evaConfig({ rho: 2, tau: 0.99 }),
    }),
  );
  const { ranks } = await initializeLoraEvaWeights(peft, batches);
  figures.push({
    file: 'init-eva.svg',
    svg: barChart({
      title: `EVA: ranks per layer (budget r = ${RANK} per layer, rho = 2)`,
      subtitle:
        'computed on the demo model with 16 calibration examples; the budget goes where inputs have the most structure',
      categories: [...ranks.keys()].map((name) =>
        name.replace('base_model.model.', '').replace('model.', ''),
      ),
      series: [{ name: 'EVA rank', values: [...ranks.values()], color: COLORS.blue }],
      axisLabel: 'rank',
      format: (v) => v.toFixed(0),
      reference: { value: RANK, label: `uniform r = ${RANK}` },
    }),
  });

  figures.push({ file: 'init-olora.svg', svg: oloraDiagram() });
  figures.push({ file: 'init-lora.svg', svg: loraDiagram() });
  return figures;
}

function arrowText(x: number, y: number, symbol: string): string {
  return text(x, y, symbol, { size: 22, anchor: 'middle', color: COLORS.ink });
}

/** W = Q·R (QR) → B = Q[:, :r], A = R[:r, :]; the base keeps W − s·B·A. */
function oloraDiagram(): string {
  const body = [
    text(16, 26, 'OLoRA: the adapter starts from the QR decomposition of W', { size: 15, weight: '600' }),
    text(
      16,
      46,
      'B has orthonormal columns (BᵀB = I); the frozen base is W − s·B·A, so the output is unchanged at step 0',
      { size: 11.5, color: COLORS.muted },
    ),
    ...box(20, 70, 110, 110, COLORS.gray, 'W', 'out × in'),
    arrowText(150, 132, '='),
    ...box(170, 70, 110, 110, COLORS.gray, 'Q', 'out × min'),
    ...box(170, 70, 30, 110, COLORS.blue, 'B'),
    arrowText(300, 132, '·'),
    ...box(320, 70, 110, 110, COLORS.gray, 'R', 'upper triangular'),
    ...box(320, 70, 110, 30, COLORS.orange, 'A'),
    text(470, 100, 'B = Q[:, :r]  (first r columns)', { size: 12 }),
    text(470, 122, 'A = R[:r, :]  (first r rows)', { size: 12 }),
    text(470, 144, 'base ← W − s·B·A', { size: 12 }),
  ];
  return svgDocument(760, 200, 'OLoRA initialization', body);
}

/** Plain LoRA: h = W·x + s·B·A·x, A random, B = 0 (output unchanged at step 0). */
function loraDiagram(): string {
  const body = [
    text(16, 26, 'LoRA: a trainable low-rank path beside the frozen weight', { size: 15, weight: '600' }),
    text(
      16,
      46,
      'h = W·x + s·B·(A·x), s = lora_alpha / r. The default init (true): A kaiming-uniform, B = 0 — no change at step 0',
      { size: 11.5, color: COLORS.muted },
    ),
    text(40, 132, 'x', { size: 18, anchor: 'middle', weight: '600' }),
    ...box(80, 66, 160, 50, COLORS.gray, 'W (frozen)', 'out × in'),
    ...box(80, 136, 70, 50, COLORS.orange, 'A', 'r × in'),
    ...box(170, 136, 70, 50, COLORS.blue, 'B', 'out × r'),
    text(260, 166, '× s', { size: 14 }),
    arrowText(320, 132, '+'),
    text(360, 137, 'h', { size: 18, anchor: 'middle', weight: '600' }),
    text(420, 96, 'PiSSA, OLoRA, CorDA, LoftQ: A, B start from W', { size: 12 }),
    text(420, 116, 'and the base becomes W − s·B·A (same output).', { size: 12 }),
    text(420, 144, 'EVA: A from the inputs’ principal components,', { size: 12 }),
    text(420, 164, 'B = 0; the base is unchanged.', { size: 12 }),
  ];
  return svgDocument(760, 206, 'LoRA', body);
}
