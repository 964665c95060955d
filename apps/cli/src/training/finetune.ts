import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getPeftModel, LoraConfig, loadAdapter, type PeftModel, saveAdapter } from '@lorakit/lora';
import {
  loadModel,
  loadTokenizer,
  type ModelOutput,
  type PreTrainedModel,
  type Tokenizer,
} from '@lorakit/models';
import {
  AdamW,
  createLrScheduler,
  listLrSchedules,
  loadOptimizerState,
  type Parameter,
  type StepInfo,
  saveOptimizerState,
  train,
} from '@lorakit/nn';
import { type Dtype, manualSeed, noGrad } from '@lorakit/tensor';
import { loadChatTemplate } from '../data/chat-template.js';
import { CliError } from '../errors.js';
import { requireAdapterDirectory, requireFile, requireModelDirectory } from '../paths.js';
import { registerInitPlugins } from '../plugins.js';
import { shuffled } from '../random.js';
import { requireResidualBase } from '../residual-base.js';
import { type Batch, batchesOf } from './batches.js';
import { type Example, readExamples, splitExamples, tokenizeExamples } from './dataset.js';
import { checkExamplesFor, PEFT_TASK_TYPES, type TrainingTask, trainingTaskOf } from './task.js';
import { computeDtypeOf, type ModelShapeConfig, modelShapeOf, stepFlops } from './throughput.js';

/** Hyperparameters of a fine-tuning run (the `train` command's flags). */
export interface FinetuneSettings {
  readonly epochs?: number;
  readonly maxSteps?: number;
  readonly batchSize: number;
  readonly gradientAccumulation: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly schedule: string;
  readonly warmupSteps: number;
  readonly maxGradNorm?: number;
  readonly seed: number;
  readonly evalSplit: number;
  readonly evalEvery?: number;
  readonly saveEvery?: number;
  readonly maxLength: number;
  /** Loss only on completions and assistant turns (default true); false trains on every token. */
  readonly completionOnly?: boolean;
  /** Recompute each layer's activations in backward instead of keeping them (same gradients). */
  readonly gradientCheckpointing?: boolean;
  /** dtype the base model is loaded in (default float32); one of {@link MODEL_DTYPES}. */
  readonly dtype?: string;
}

/** The dtypes `--dtype` takes for the base model. */
export const MODEL_DTYPES = ['float32', 'bfloat16', 'float16'] as const;

export interface FinetuneInput {
  readonly modelDir: string;
  readonly dataPath: string;
  readonly out: string;
  /** The adapter to create (ignored when resuming: the checkpoint's config is used). */
  readonly loraConfig: LoraConfig;
  readonly settings: FinetuneSettings;
  /** A checkpoint folder written by `saveEvery` to continue from. */
  readonly resume?: string;
  /** An adapter to continue training (e.g. one from `lorakit init`) instead of a new one. */
  readonly adapter?: string;
  readonly signal?: AbortSignal;
  /** A model already loaded from `modelDir` (the demo reuses its own). */
  readonly model?: PreTrainedModel;
  readonly onStart?: (info: {
    totalSteps: number;
    startStep: number;
    trainExamples: number;
    evalExamples: number;
    trainable: string;
    /** The dtype the model's matrix products run in (for the peak rate of MFU). */
    computeDtype: Dtype;
  }) => void;
  /** After each optimizer step, with the model FLOPs of the step (see `stepFlops`). */
  readonly onStep?: (info: StepInfo, work: { flops: number }) => void;
  readonly onEvaluate?: (info: { step: number; loss: number }) => void;
  readonly onCheckpoint?: (info: { step: number; dir: string }) => void;
}

/** One point of the loss history (kept in trainer_state.json and drawn in the loss curve). */
export interface LossPoint {
  readonly step: number;
  readonly loss: number;
}

export interface FinetuneResult {
  readonly peft: PeftModel;
  readonly model: PreTrainedModel;
  readonly tokenizer: Tokenizer;
  readonly steps: number;
  readonly stopReason: 'completed' | 'maxSteps' | 'aborted';
  readonly losses: LossPoint[];
  readonly evalLosses: LossPoint[];
  readonly tokens: number;
  /** Model FLOPs of the training steps of this run (see `stepFlops`). */
  readonly flops: number;
  readonly trainMs: number;
  /** Where the adapter was written (the checkpoint folder when aborted). */
  readonly adapterDir: string;
}

const TRAINER_STATE = 'trainer_state.json';
const OPTIMIZER_STATE = 'optimizer.safetensors';

/** Fields of adapter_config.json that describe the file rather than the training (left out of the fingerprint). */
const NOT_TRAINING = new Set([
  'inference_mode',
  'base_model_name_or_path',
  'revision',
  'auto_mapping',
  'peft_version',
]);

/**
 * What must be equal for a checkpoint to be resumed with these settings and data: the data, every
 * optimizer, schedule and batching setting, and every LoRA setting (by its adapter_config.json key),
 * so that a resumed run is the run it claims to continue.
 */
function fingerprint(
  settings: FinetuneSettings,
  dataPath: string,
  examples: number,
  loraConfig: LoraConfig,
): Record<string, unknown> {
  const { batchSize, gradientAccumulation, seed, evalSplit, maxLength, epochs, maxSteps } = settings;
  const { learningRate, weightDecay, schedule, warmupSteps, maxGradNorm, completionOnly } = settings;
  const lora = Object.entries(loraConfig.toPeftDict()).filter(([key]) => !NOT_TRAINING.has(key));
  return {
    data: resolve(dataPath),
    examples,
    batchSize,
    gradientAccumulation,
    seed,
    evalSplit,
    maxLength,
    epochs,
    maxSteps,
    learningRate,
    weightDecay,
    schedule,
    warmupSteps,
    maxGradNorm: maxGradNorm ?? null,
    completionOnly: completionOnly ?? true,
    ...Object.fromEntries(lora),
  };
}

/**
 * The config with PEFT's task_type of the task when it names none or the CLI's causal default: SEQ_CLS
 * also trains and saves the classification head, as PEFT does.
 */
function withTaskType(config: LoraConfig, task: TrainingTask): LoraConfig {
  const taskType = PEFT_TASK_TYPES[task];
  if (config.taskType === taskType || (config.taskType !== null && config.taskType !== 'CAUSAL_LM'))
    return config;
  return new LoraConfig({ ...config.toOptions(), taskType });
}

/** Mean token loss over batches (each batch weighted by its labelled tokens). */
export function evaluationLoss(peft: PeftModel, batches: readonly Batch[]): number {
  let sum = 0;
  let count = 0;
  noGrad(() => {
    for (const batch of batches) {
      const output = peft.call({
        inputIds: batch.inputIds,
        attentionMask: batch.attentionMask,
        labels: batch.labels,
      }) as ModelOutput;
      sum += output.loss!.item() * batch.labelled;
      count += batch.labelled;
    }
  });
  return count === 0 ? Number.NaN : sum / count;
}

/**
 * LoRA fine-tuning on a text or JSONL file (the `train` command and the demo) of a causal LM, a
 * sequence-to-sequence LM (input/target pairs) or a sequence classifier (text/label pairs): tokenize
 * with the checkpoint's tokenizer, split off an evaluation set, AdamW over the adapter's parameters with
 * a transformers schedule, @lorakit/nn's `train` loop, checkpoints (adapter + optimizer state + loss
 * history) every `saveEvery` steps, resume from one, and the adapter saved in PEFT's format to `out`.
 */
export async function finetune(input: FinetuneInput): Promise<FinetuneResult> {
  const { settings } = input;
  await registerInitPlugins();
  requireModelDirectory(input.modelDir);
  requireFile(input.dataPath, '--data');
  if (input.resume) requireAdapterDirectory(input.resume, '--resume checkpoint');
  if (input.adapter) requireAdapterDirectory(input.adapter, '--adapter directory');
  if (input.resume && input.adapter)
    throw new CliError('--resume and --adapter cannot be combined: a checkpoint holds its adapter');
  if (!listLrSchedules().includes(settings.schedule)) {
    throw new CliError(
      `--schedule must be one of ${listLrSchedules().join(', ')}, received ${JSON.stringify(settings.schedule)}`,
    );
  }
  const dtype = settings.dtype ?? 'float32';
  if (!(MODEL_DTYPES as readonly string[]).includes(dtype)) {
    throw new CliError(
      `--dtype must be one of ${MODEL_DTYPES.join(', ')}, received ${JSON.stringify(dtype)}`,
    );
  }
  if (!existsSync(join(input.modelDir, 'tokenizer.json'))) {
    throw new CliError(
      `model directory ${input.modelDir} has no tokenizer.json (training tokenizes the data with the checkpoint's tokenizer)`,
    );
  }
  const tokenizer = await loadTokenizer(input.modelDir);
  const raw = readExamples(input.dataPath);
  manualSeed(settings.seed);
  const model =
    input.model ?? (await loadModel(input.modelDir, { dtype: dtype as (typeof MODEL_DTYPES)[number] }));
  // The task comes from the model; data that does not fit it is refused before anything is trained.
  const task = trainingTaskOf(model);
  checkExamplesFor(task, raw, input.dataPath, model);
  const examples = tokenizeExamples(raw, tokenizer, {
    maxLength: settings.maxLength,
    task,
    model,
    where: input.dataPath,
    chatTemplate: raw.some((example) => 'messages' in example) ? loadChatTemplate(input.modelDir) : undefined,
    completionOnly: settings.completionOnly,
  });
  const { train: trainSet, evaluation } = splitExamples(examples, settings.evalSplit, settings.seed);
  if (trainSet.every((e) => e.labels.every((l) => l === -100))) {
    throw new CliError(`${input.dataPath}: no example has a token to learn (completions are empty?)`);
  }
  const padId = tokenizer.padTokenId ?? model.config.padTokenId ?? tokenizer.eosTokenId ?? 0;

  const from = input.resume ?? input.adapter;
  if (from) requireResidualBase(from, input.modelDir);
  const peft = from
    ? loadAdapter(model, from, { isTrainable: true })
    : getPeftModel(model, withTaskType(input.loraConfig, task));
  const parameters = peft.parameters().filter((p: Parameter) => p.requiresGrad);
  if (settings.gradientCheckpointing) model.gradientCheckpointingEnable();
  const shape = modelShapeOf(peft, model.config as ModelShapeConfig);

  const batchesPerEpoch = Math.ceil(trainSet.length / settings.batchSize);
  const stepsPerEpoch = Math.ceil(batchesPerEpoch / settings.gradientAccumulation);
  const totalSteps = settings.maxSteps ?? (settings.epochs ?? 1) * stepsPerEpoch;
  const optimizer = new AdamW(parameters, { lr: settings.learningRate, weightDecay: settings.weightDecay });
  const scheduler = createLrScheduler(settings.schedule, optimizer, {
    numWarmupSteps: settings.warmupSteps,
    numTrainingSteps: totalSteps,
  });

  const expected = fingerprint(settings, input.dataPath, examples.length, input.loraConfig);
  let startStep = 0;
  let losses: LossPoint[] = [];
  let evalLosses: LossPoint[] = [];
  if (input.resume) {
    const optimizerPath = join(input.resume, OPTIMIZER_STATE);
    requireFile(optimizerPath, '--resume checkpoint optimizer state');
    const loaded = loadOptimizerState(optimizerPath, optimizer, scheduler);
    const saved = JSON.parse(loaded.metadata.lorakit_train ?? '{}') as Record<string, unknown>;
    const different = Object.keys(expected).filter(
      (k) => JSON.stringify(saved[k]) !== JSON.stringify(expected[k]),
    );
    if (different.length) {
      throw new CliError(
        `--resume ${input.resume} was trained with other settings: ${different.map((k) => `${k} ${k in saved ? JSON.stringify(saved[k]) : 'not recorded'} (now ${JSON.stringify(expected[k])})`).join(', ')}`,
      );
    }
    startStep = loaded.step ?? 0;
    const statePath = join(input.resume, TRAINER_STATE);
    if (existsSync(statePath)) {
      const state = JSON.parse(readFileSync(statePath, 'utf8')) as {
        losses?: LossPoint[];
        evalLosses?: LossPoint[];
      };
      losses = state.losses ?? [];
      evalLosses = state.evalLosses ?? [];
    }
  }
  input.onStart?.({
    totalSteps,
    startStep,
    trainExamples: trainSet.length,
    evalExamples: evaluation.length,
    trainable: peft.trainableParametersSummary(),
    computeDtype: computeDtypeOf(model),
  });

  const evalBatches = batchesOf(evaluation, settings.batchSize, padId, task);
  const batchesFor = (epoch: number): Batch[] =>
    batchesOf(shuffled<Example>(trainSet, settings.seed + epoch), settings.batchSize, padId, task);
  const saveCheckpoint = async (step: number): Promise<string> => {
    const dir = join(input.out, `checkpoint-${step}`);
    await saveAdapter(peft, dir);
    await saveOptimizerState(join(dir, OPTIMIZER_STATE), optimizer, {
      scheduler,
      step,
      metadata: { lorakit_train: JSON.stringify(expected) },
    });
    writeFileSync(join(dir, TRAINER_STATE), `${JSON.stringify({ step, losses, evalLosses }, null, 1)}\n`);
    input.onCheckpoint?.({ step, dir });
    return dir;
  };

  let stepWork = 0;
  let totalFlops = 0;
  const result = await train<Batch>({
    model: peft,
    data: batchesFor,
    epochs: settings.maxSteps === undefined ? (settings.epochs ?? 1) : Number.POSITIVE_INFINITY,
    maxSteps: totalSteps,
    gradientAccumulationSteps: settings.gradientAccumulation,
    maxGradNorm: settings.maxGradNorm,
    optimizer,
    scheduler,
    startStep,
    signal: input.signal,
    countTokens: (batch) => {
      stepWork += stepFlops(shape, batch);
      return batch.tokens;
    },
    // computeLoss is synchronous and keeps nothing: each micro-batch's activations are recycled.
    tidy: true,
    computeLoss: (batch) =>
      (
        peft.call({
          inputIds: batch.inputIds,
          attentionMask: batch.attentionMask,
          labels: batch.labels,
        }) as ModelOutput
      ).loss!,
    evaluate:
      evalBatches.length && settings.evalEvery
        ? {
            every: settings.evalEvery,
            fn: ({ step }) => {
              const loss = evaluationLoss(peft, evalBatches);
              evalLosses.push({ step, loss });
              return loss;
            },
          }
        : undefined,
    checkpointEvery: settings.saveEvery,
    callbacks: {
      onStep: (info) => {
        losses.push({ step: info.step, loss: info.loss });
        totalFlops += stepWork;
        input.onStep?.(info, { flops: stepWork });
        stepWork = 0;
      },
      onEvaluate: ({ step, metrics }) => input.onEvaluate?.({ step, loss: metrics as number }),
      onCheckpoint: async ({ step }) => {
        await saveCheckpoint(step);
      },
    },
  });

  let adapterDir = input.out;
  if (result.stopReason === 'aborted') {
    adapterDir = await saveCheckpoint(result.step);
  } else {
    if (evalBatches.length && evalLosses.at(-1)?.step !== result.step) {
      peft.eval();
      const loss = evaluationLoss(peft, evalBatches);
      evalLosses.push({ step: result.step, loss });
      input.onEvaluate?.({ step: result.step, loss });
    }
    await saveAdapter(peft, input.out);
    writeFileSync(
      join(input.out, TRAINER_STATE),
      `${JSON.stringify({ step: result.step, losses, evalLosses }, null, 1)}\n`,
    );
  }
  peft.eval();
  return {
    peft,
    model,
    tokenizer,
    steps: result.step,
    stopReason: result.stopReason,
    losses,
    evalLosses,
    tokens: result.tokens ?? 0,
    flops: totalFlops,
    trainMs: result.elapsedMs,
    adapterDir,
  };
}
