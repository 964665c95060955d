import { noGradAsync, Tensor, tidy } from '@lorakit/tensor';
import { TrainingError } from '../errors.js';
import type { AnyModule } from '../module.js';
import { clipGradNormOnDevice } from '../optim/clip-grad-norm.js';
import type { LrScheduler } from '../optim/lr-scheduler.js';
import type { Optimizer } from '../optim/optimizer.js';

/** Batches for training: a re-iterable collection, or a function giving each epoch's batches. */
export type TrainData<B> =
  | Iterable<B>
  | AsyncIterable<B>
  | ((epoch: number) => Iterable<B> | AsyncIterable<B>);

/** Where a micro-batch sits, passed to `computeLoss`. */
export interface MicroBatchContext<B = unknown> {
  /** The optimizer step this micro-batch contributes to (1-based). */
  readonly step: number;
  /** 0-based epoch. */
  readonly epoch: number;
  /** Position of this micro-batch in its accumulation window (0-based). */
  readonly microStep: number;
  /** Micro-batches in this window: `gradientAccumulationSteps`, fewer at the end of an epoch. */
  readonly windowSize: number;
  /** Batches of the whole window, for losses normalized over the window (transformers' num_items_in_batch). */
  readonly window: readonly B[];
}

/**
 * Reported after every optimizer step (for logs and progress bars). `loss` and `gradNorm` stay on the
 * device until first read: a callback that does not read them costs the step no host round trip.
 */
export interface StepInfo {
  /** Optimizer steps done (1-based), counting resumed ones. */
  readonly step: number;
  /** Total optimizer steps when known (maxSteps, or an array of batches and a number of epochs). */
  readonly totalSteps: number | undefined;
  /** 0-based epoch. */
  readonly epoch: number;
  /** Mean of the micro-batch losses of this step, before scaling for accumulation (read on first access). */
  readonly loss: number;
  /** Learning rate of the first parameter group used by this step. */
  readonly lr: number;
  /** Gradient norm before clipping (only with maxGradNorm; read on first access). */
  readonly gradNorm: number | undefined;
  /** Tokens in this step's batches (only with countTokens). */
  readonly tokens: number | undefined;
  /** Wall time of this step in ms: reading its batches, forward, backward and the optimizer. */
  readonly stepMs: number;
  /** Wall time since `train` started, in ms. */
  readonly elapsedMs: number;
}

/** Metrics returned by an evaluation: one number or named numbers. */
export type Metrics = number | Readonly<Record<string, number>>;

/** Hooks the loop calls and awaits; a CLI draws its progress bar and saves checkpoints from these. */
export interface TrainCallbacks {
  /** After each optimizer step. */
  onStep?(info: StepInfo): void | Promise<void>;
  /** After each evaluation, with its metrics. */
  onEvaluate?(info: { step: number; epoch: number; metrics: Metrics }): void | Promise<void>;
  /** Every `checkpointEvery` steps: save the model, optimizer and scheduler here. */
  onCheckpoint?(info: { step: number; epoch: number }): void | Promise<void>;
  /** After each full pass over the data. */
  onEpochEnd?(info: { step: number; epoch: number }): void | Promise<void>;
}

/** Options of {@link train}; `B` is the type of one micro-batch. */
export interface TrainOptions<B> {
  /**
   * The forward pass: the scalar loss of one micro-batch. The loop does backward, scaling for
   * accumulation, clipping, the optimizer and scheduler steps and zeroGrad.
   */
  readonly computeLoss: (batch: B, context: MicroBatchContext<B>) => Tensor | Promise<Tensor>;
  readonly data: TrainData<B>;
  readonly optimizer: Optimizer;
  /** Stepped after each optimizer step. */
  readonly scheduler?: LrScheduler;
  /** Put in training mode for training and evaluation mode while `evaluate` runs. */
  readonly model?: AnyModule;
  /** Passes over the data (default 1, or unbounded when only maxSteps is given). */
  readonly epochs?: number;
  /** Stop after this many optimizer steps (counting resumed ones). */
  readonly maxSteps?: number;
  /**
   * Micro-batches per optimizer step (default 1). Each micro-batch's loss is divided by the number of
   * micro-batches in its window before backward, as transformers' Trainer does, so the gradient is
   * the mean over the window.
   */
  readonly gradientAccumulationSteps?: number;
  /**
   * Divide each loss by the window size (default true). Set false when computeLoss already
   * normalizes over the whole window (see `MicroBatchContext.window`).
   */
  readonly scaleLossByWindow?: boolean;
  /** Clip the gradient norm to this value before each optimizer step. */
  readonly maxGradNorm?: number;
  /** Evaluate every `every` optimizer steps (under noGrad). */
  readonly evaluate?: {
    readonly every: number;
    readonly fn: (info: { step: number; epoch: number }) => Metrics | Promise<Metrics>;
  };
  /** Call `onCheckpoint` every this many optimizer steps. */
  readonly checkpointEvery?: number;
  /**
   * Resume after this many optimizer steps: the first `startStep` windows of data are read and
   * skipped without computing (restore the optimizer and scheduler state before calling `train`).
   */
  readonly startStep?: number;
  /** Tokens in a batch, for throughput. */
  readonly countTokens?: (batch: B) => number;
  readonly callbacks?: TrainCallbacks;
  /** Stops training between micro-batches; `train` then resolves with stopReason 'aborted'. */
  readonly signal?: AbortSignal;
  /**
   * Run each micro-batch (`computeLoss`, then backward) inside `tidy()` (default false): every tensor
   * it creates except the gradients and kept state (`keep()`: optimizer buffers, caches) is disposed
   * when it ends, so a backend that recycles memory reuses the forward's activations for the next step
   * instead of waiting for the garbage collector. On the cpu backend that takes a LoRA training step of
   * the Llama benchmark model from about 130 ms to about 90 ms. `computeLoss` must then be synchronous
   * (a Promise is an error) and must not hold on to tensors it creates after it returns.
   */
  readonly tidy?: boolean;
}

/** How a {@link train} call ended. */
export interface TrainResult {
  /** Optimizer steps done, counting resumed ones. */
  readonly step: number;
  /** Epochs started. */
  readonly epochs: number;
  readonly stopReason: 'completed' | 'maxSteps' | 'aborted';
  /** Loss of the last step, if any ran (read from the device on first access). */
  readonly loss: number | undefined;
  readonly elapsedMs: number;
  /** Tokens processed (with countTokens). */
  readonly tokens: number | undefined;
}

function positiveInteger(name: string, value: unknown, allowInfinity = false): void {
  const ok =
    typeof value === 'number' &&
    value > 0 &&
    (Number.isInteger(value) || (allowInfinity && value === Number.POSITIVE_INFINITY));
  if (!ok) throw new TrainingError(`[train] ${name} must be a positive integer, received ${String(value)}`);
}

function isIterable(value: unknown): value is Iterable<unknown> | AsyncIterable<unknown> {
  return (
    value !== null && typeof value === 'object' && (Symbol.iterator in value || Symbol.asyncIterator in value)
  );
}

function iteratorOf<B>(source: Iterable<B> | AsyncIterable<B>): AsyncIterator<B> | Iterator<B> {
  return Symbol.asyncIterator in source
    ? (source as AsyncIterable<B>)[Symbol.asyncIterator]()
    : (source as Iterable<B>)[Symbol.iterator]();
}

/** Optimizer steps of a run, when the data has a known length. */
function knownTotalSteps<B>(
  options: TrainOptions<B>,
  epochs: number,
  accumulation: number,
): number | undefined {
  const data = options.data as unknown;
  const length = Array.isArray(data) ? data.length : undefined;
  const fromData =
    length !== undefined && Number.isFinite(epochs) ? epochs * Math.ceil(length / accumulation) : undefined;
  if (options.maxSteps === undefined) return fromData;
  return fromData === undefined ? options.maxSteps : Math.min(fromData, options.maxSteps);
}

/**
 * A number computed on the device, read to the host once, on first use: the loop never waits for the
 * device to report a value nobody reads.
 */
function readOnce(value: Tensor): () => number {
  let host: number | undefined;
  return () => {
    host ??= value.item();
    return host;
  };
}

/**
 * Checks a micro-batch's loss, backpropagates it divided by `divisor` and returns its value as a
 * float64 tensor cut from the graph (kept on the device; float64 so that the window's sum and mean are
 * the float64 arithmetic of the host values).
 */
function backwardMicroBatch(loss: unknown, divisor: number): Tensor {
  if (!(loss instanceof Tensor)) {
    throw new TrainingError(
      `[train] computeLoss must return a scalar loss Tensor, received ${loss === null ? 'null' : typeof loss}`,
    );
  }
  if (loss.size !== 1) {
    throw new TrainingError(
      `[train] computeLoss must return a scalar loss, received shape [${loss.shape.join(', ')}]`,
    );
  }
  if (!loss.requiresGrad) {
    throw new TrainingError(
      '[train] the loss does not require grad: no trainable parameter took part in computeLoss (all parameters frozen, or it ran under noGrad?)',
    );
  }
  const value = loss.detach().cast('float64');
  (divisor > 1 ? loss.div(divisor) : loss).backward();
  return value;
}

/**
 * Runs a training loop: for each window of `gradientAccumulationSteps` micro-batches it calls
 * `computeLoss`, backpropagates each loss divided by the window size, clips the gradient norm, steps
 * the optimizer and the scheduler, and clears the gradients; then it reports the step, evaluates and
 * asks for checkpoints on their cadence. The last window of an epoch may be shorter; it still makes a
 * step (transformers' Trainer does the same).
 *
 * Callbacks may be async and are awaited. Stopping through `signal` discards a partly accumulated
 * window and resolves normally, so the caller can save a checkpoint at `result.step`.
 */
export async function train<B>(options: TrainOptions<B>): Promise<TrainResult> {
  const accumulation = options.gradientAccumulationSteps ?? 1;
  positiveInteger('gradientAccumulationSteps', accumulation);
  if (options.maxSteps !== undefined) positiveInteger('maxSteps', options.maxSteps);
  const epochs = options.epochs ?? (options.maxSteps !== undefined ? Number.POSITIVE_INFINITY : 1);
  positiveInteger('epochs', epochs, true);
  if (options.evaluate !== undefined) {
    positiveInteger('evaluate.every', options.evaluate.every);
    if (typeof options.evaluate.fn !== 'function') {
      throw new TrainingError('[train] evaluate.fn must be a function');
    }
  }
  if (options.checkpointEvery !== undefined) positiveInteger('checkpointEvery', options.checkpointEvery);
  const startStep = options.startStep ?? 0;
  if (!Number.isInteger(startStep) || startStep < 0) {
    throw new TrainingError(
      `[train] startStep must be a non-negative integer, received ${String(startStep)}`,
    );
  }
  if (options.maxGradNorm !== undefined && !(options.maxGradNorm > 0)) {
    throw new TrainingError(`[train] maxGradNorm must be a positive number, received ${options.maxGradNorm}`);
  }
  if (typeof options.computeLoss !== 'function') {
    throw new TrainingError('[train] computeLoss must be a function (batch, context) => scalar loss tensor');
  }
  const data = options.data;
  if (typeof data !== 'function' && !isIterable(data)) {
    throw new TrainingError(
      '[train] data must be an iterable, an async iterable, or a function (epoch) => iterable of batches',
    );
  }

  const { optimizer, scheduler, model, signal, callbacks = {} } = options;
  const scale = options.scaleLossByWindow ?? true;
  const totalSteps = knownTotalSteps(options, epochs, accumulation);
  const started = performance.now();
  let step = startStep;
  let windowsSeen = 0;
  let lastLoss: (() => number) | undefined;
  let totalTokens = options.countTokens ? 0 : undefined;
  let epoch = 0;
  let stopReason: TrainResult['stopReason'] = 'completed';

  const finish = (): TrainResult => ({
    step,
    epochs: epoch,
    stopReason,
    get loss() {
      return lastLoss?.();
    },
    elapsedMs: performance.now() - started,
    tokens: totalTokens,
  });

  if (options.maxSteps !== undefined && step >= options.maxSteps) {
    stopReason = 'maxSteps';
    return finish();
  }
  model?.train();
  optimizer.zeroGrad();

  for (; epoch < epochs; ) {
    const source = typeof data === 'function' ? data(epoch) : data;
    if (!isIterable(source)) {
      throw new TrainingError(`[train] data(${epoch}) must return an iterable of batches`);
    }
    const iterator = iteratorOf(source);
    let batchesInEpoch = 0;
    epoch += 1;
    for (;;) {
      if (signal?.aborted) {
        stopReason = 'aborted';
        return finish();
      }
      const stepStarted = performance.now();
      const window: B[] = [];
      while (window.length < accumulation) {
        const next = await iterator.next();
        if (next.done) break;
        window.push(next.value);
      }
      if (window.length === 0) break;
      batchesInEpoch += window.length;
      windowsSeen += 1;
      if (windowsSeen <= startStep) continue;

      let lossSum: Tensor | undefined;
      let tokens = options.countTokens ? 0 : undefined;
      for (const [microStep, batch] of window.entries()) {
        if (signal?.aborted) {
          optimizer.zeroGrad();
          stopReason = 'aborted';
          return finish();
        }
        const context: MicroBatchContext<B> = {
          step: step + 1,
          epoch: epoch - 1,
          microStep,
          windowSize: window.length,
          window,
        };
        let value: Tensor;
        if (options.tidy) {
          value = tidy(() => {
            const loss = options.computeLoss(batch, context);
            if (loss instanceof Promise) {
              // Its tensors would be disposed before the promise settles; drop the rejection too.
              loss.catch(() => {});
              throw new TrainingError(
                '[train] computeLoss returned a Promise, but tidy: true needs a synchronous computeLoss (its tensors are disposed when it returns); make it synchronous or leave tidy off',
              );
            }
            return backwardMicroBatch(loss, scale && window.length > 1 ? window.length : 1);
          });
        } else {
          const loss = await options.computeLoss(batch, context);
          value = backwardMicroBatch(loss, scale && window.length > 1 ? window.length : 1);
        }
        lossSum = lossSum ? lossSum.add(value) : value;
        if (tokens !== undefined) tokens += options.countTokens!(batch);
      }
      const gradNorm =
        options.maxGradNorm !== undefined
          ? clipGradNormOnDevice(optimizer.parameters(), options.maxGradNorm)
          : undefined;
      const readGradNorm = gradNorm ? readOnce(gradNorm) : undefined;
      const lr = optimizer.paramGroups[0]!.lr;
      optimizer.step();
      scheduler?.step();
      optimizer.zeroGrad();
      step += 1;
      const stepLoss = readOnce(window.length > 1 ? lossSum!.div(window.length) : lossSum!);
      lastLoss = stepLoss;
      if (tokens !== undefined) totalTokens! += tokens;
      // Let timers and signal handlers (an AbortSignal wired to SIGINT) run between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const now = performance.now();
      await callbacks.onStep?.({
        step,
        totalSteps,
        epoch: epoch - 1,
        get loss() {
          return stepLoss();
        },
        lr,
        get gradNorm() {
          // undefined without maxGradNorm; 0 when no parameter had a gradient.
          return gradNorm === undefined ? undefined : (readGradNorm?.() ?? 0);
        },
        tokens,
        stepMs: now - stepStarted,
        elapsedMs: now - started,
      });
      if (options.evaluate && step % options.evaluate.every === 0) {
        model?.eval();
        try {
          const evaluate = options.evaluate.fn;
          const metrics = await noGradAsync(async () => evaluate({ step, epoch: epoch - 1 }));
          await callbacks.onEvaluate?.({ step, epoch: epoch - 1, metrics });
        } finally {
          model?.train();
        }
      }
      if (options.checkpointEvery && step % options.checkpointEvery === 0) {
        await callbacks.onCheckpoint?.({ step, epoch: epoch - 1 });
      }
      if (options.maxSteps !== undefined && step >= options.maxSteps) {
        stopReason = 'maxSteps';
        return finish();
      }
    }
    if (batchesInEpoch === 0) {
      throw new TrainingError(
        epoch === 1
          ? '[train] data produced no batches'
          : `[train] epoch ${epoch - 1} produced no batches: data is a one-shot iterator (a generator?); pass an array or a function (epoch) => iterable`,
      );
    }
    await callbacks.onEpochEnd?.({ step, epoch: epoch - 1 });
  }
  return finish();
}
