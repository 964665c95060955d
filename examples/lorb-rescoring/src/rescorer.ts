import { getPeftModel, LoraConfig, type PeftModel } from '@lorakit/lora';
import type { ModelOutput, PreTrainedModel } from '@lorakit/models';
import { AdamW, Linear, type Parameter, train } from '@lorakit/nn';
import { noGrad, type Tensor, tensor } from '@lorakit/tensor';
import { VOCABULARY } from './grammar.js';
import { correlationLoss, mwerLoss } from './losses.js';
import type { Utterance } from './nbest.js';
import { Random } from './random.js';

/** Special token ids; the words follow in VOCABULARY order. */
export const TOKENS = { pad: 0, cls: 1, sep: 2, mask: 3 } as const;
const FIRST_WORD = 4;
const WORD_IDS = new Map(VOCABULARY.map((word, i) => [word, FIRST_WORD + i]));

/** [CLS] words [SEP] as ids. */
export function encode(words: readonly string[]): number[] {
  return [TOKENS.cls, ...words.map((w) => WORD_IDS.get(w)!), TOKENS.sep];
}

/** Rows right-padded with `fill` as int64 [rows, longest], and the attention mask. */
export function padBatch(
  rows: readonly (readonly number[])[],
  fill: number = TOKENS.pad,
): { inputIds: Tensor; attentionMask: Tensor } {
  const longest = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * longest).fill(BigInt(fill));
  const mask = new BigInt64Array(rows.length * longest);
  for (const [r, row] of rows.entries()) {
    for (const [i, id] of row.entries()) {
      ids[r * longest + i] = BigInt(id);
      mask[r * longest + i] = 1n;
    }
  }
  const shape = [rows.length, longest];
  return {
    inputIds: tensor(ids, { shape, dtype: 'int64' }),
    attentionMask: tensor(mask, { shape, dtype: 'int64' }),
  };
}

/** A small BERT for the task's vocabulary (the stand-in for a pretrained BERT; no dropout). */
export function bertConfig(hidden: number, layers: number): Record<string, unknown> {
  return {
    model_type: 'bert',
    architectures: ['BertForMaskedLM'],
    vocab_size: FIRST_WORD + VOCABULARY.length,
    hidden_size: hidden,
    num_hidden_layers: layers,
    num_attention_heads: 4,
    intermediate_size: 4 * hidden,
    max_position_embeddings: 32,
    pad_token_id: TOKENS.pad,
    hidden_dropout_prob: 0,
    attention_probs_dropout_prob: 0,
  };
}

/**
 * Masked-LM pretraining on reference sentences (the "pretrained BERT" the paper starts from): 15% of
 * the words of each sentence (at least one) become [MASK] and are predicted. Returns the loss per step.
 */
export async function pretrainMlm(
  model: PreTrainedModel,
  sentences: readonly (readonly string[])[],
  options: { steps: number; batchSize: number; learningRate: number; seed: number },
): Promise<number[]> {
  const random = new Random(options.seed);
  const batches = Array.from({ length: options.steps }, () => {
    const rows = Array.from({ length: options.batchSize }, () => encode(random.pick(sentences)));
    const labels = rows.map((row) => row.map(() => -100));
    for (const [r, row] of rows.entries()) {
      const words = row.length - 2;
      const count = Math.max(1, Math.round(words * 0.15));
      for (let m = 0; m < count; m++) {
        const at = 1 + random.int(words);
        labels[r]![at] = row[at]!;
        row[at] = TOKENS.mask;
      }
    }
    return { ...padBatch(rows), labels: padBatch(labels, -100).inputIds };
  });
  const losses: number[] = [];
  const optimizer = new AdamW(model.parameters(), { lr: options.learningRate, weightDecay: 0 });
  await train({
    model,
    data: batches,
    optimizer,
    maxGradNorm: 1,
    computeLoss: (batch) => (model.call(batch) as ModelOutput).loss!,
    callbacks: { onStep: ({ loss }) => void losses.push(loss) },
  });
  return losses;
}

/** A BERT rescorer: a scalar score from the [CLS] representation, added to the first-pass cost. */
export class Rescorer {
  readonly head: Linear;
  constructor(
    readonly model: PreTrainedModel | PeftModel,
    hidden: number,
  ) {
    this.head = new Linear(hidden, 1);
  }

  /** Combined costs [utterances, n] (first pass + BERT) and the [CLS] representations [utterances·n, d]. */
  costs(utterances: readonly Utterance[]): { costs: Tensor; hidden: Tensor } {
    const n = utterances[0]!.nbest.length;
    const rows = utterances.flatMap((u) => u.nbest.map((h) => encode(h.words)));
    const output = this.model.call(padBatch(rows)) as ModelOutput;
    const hidden = output.lastHiddenState!.select(1, 0);
    const bert = this.head.call(hidden).reshape(utterances.length, n);
    const firstPass = tensor(
      Float32Array.from(utterances.flatMap((u) => u.nbest.map((h) => h.firstPassCost))),
      {
        shape: [utterances.length, n],
      },
    );
    return { costs: firstPass.add(bert), hidden };
  }

  /** The index of the lowest combined cost in each utterance. */
  choose(utterances: readonly Utterance[], batchSize = 32): number[] {
    const choices: number[] = [];
    this.model.eval();
    noGrad(() => {
      for (let i = 0; i < utterances.length; i += batchSize) {
        const { costs } = this.costs(utterances.slice(i, i + batchSize));
        choices.push(...Array.from(costs.neg().argmax(-1).toArray() as ArrayLike<number | bigint>, Number));
      }
    });
    return choices;
  }
}

export interface RescoreTrainingOptions {
  readonly steps: number;
  /** Utterances per step (each with its whole n-best list). */
  readonly batchSize: number;
  readonly learningRate: number;
  /** Weight of the correlation regularizer (0: MWER alone). */
  readonly correlationWeight: number;
  readonly seed: number;
  /** Held-out utterances whose MWER loss is measured every `evaluateEvery` steps. */
  readonly dev?: readonly Utterance[];
  readonly evaluateEvery?: number;
}

export interface RescoreTrainingResult {
  readonly losses: { step: number; loss: number }[];
  /** MWER loss on `dev` (no regularizer) at the evaluation steps. */
  readonly devLosses: { step: number; loss: number }[];
  readonly trainable: number;
  readonly total: number;
  /** Wall time of the training steps (evaluation excluded). */
  readonly seconds: number;
  /** The median step time in milliseconds: robust to a busy machine's stalls. */
  readonly medianStepMs: number;
}

/**
 * Discriminative training of a rescorer on n-best lists: MWER over the combined costs, plus the
 * correlation regularizer on the [CLS] representations. `parameters`: what is trained (LoRA factors
 * and the head, or everything for full fine-tuning).
 */
export async function trainRescorer(
  rescorer: Rescorer,
  parameters: readonly Parameter[],
  data: readonly Utterance[],
  options: RescoreTrainingOptions,
): Promise<RescoreTrainingResult> {
  const random = new Random(options.seed);
  const batches = Array.from({ length: options.steps }, () =>
    Array.from({ length: options.batchSize }, () => random.pick(data)),
  );
  const errors = (batch: readonly Utterance[]) =>
    tensor(Float32Array.from(batch.flatMap((u) => u.nbest.map((h) => h.errors))), {
      shape: [batch.length, batch[0]!.nbest.length],
    });
  const optimizer = new AdamW([...parameters], { lr: options.learningRate, weightDecay: 0 });
  const losses: { step: number; loss: number }[] = [];
  const devLosses: { step: number; loss: number }[] = [];
  const stepTimes: number[] = [];
  const { dev } = options;
  let evaluationMs = 0;
  rescorer.model.train();
  const started = performance.now();
  await train({
    data: batches,
    optimizer,
    maxGradNorm: 1,
    evaluate:
      dev && options.evaluateEvery
        ? {
            every: options.evaluateEvery,
            fn: ({ step }) => {
              const t = performance.now();
              rescorer.model.eval();
              const loss = noGrad(() => mwerLoss(rescorer.costs(dev).costs, errors(dev)).item());
              rescorer.model.train();
              devLosses.push({ step, loss });
              evaluationMs += performance.now() - t;
              return loss;
            },
          }
        : undefined,
    computeLoss: (batch) => {
      const { costs, hidden } = rescorer.costs(batch);
      const loss = mwerLoss(costs, errors(batch));
      return options.correlationWeight > 0
        ? loss.add(correlationLoss(hidden).mul(options.correlationWeight))
        : loss;
    },
    callbacks: {
      onStep: ({ step, loss, stepMs }) => {
        losses.push({ step, loss });
        stepTimes.push(stepMs);
      },
    },
  });
  const seconds = (performance.now() - started - evaluationMs) / 1000;
  const sorted = [...stepTimes].sort((a, b) => a - b);
  const medianStepMs = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  const all = new Set([...rescorer.model.parameters(), ...rescorer.head.parameters()]);
  const total = [...all].reduce((n, p) => n + p.size, 0);
  const trainable = parameters.reduce((n, p) => n + p.size, 0);
  return { losses, devLosses, trainable, total, seconds, medianStepMs };
}

/** LoRA on BERT's query and value projections (PEFT's default for bert) with rank `r`. */
export function withLora(model: PreTrainedModel, r: number): PeftModel {
  return getPeftModel(model, new LoraConfig({ r, loraAlpha: 2 * r, targetModules: ['query', 'value'] }));
}
