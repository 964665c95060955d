import { crossEntropy, isGradEnabled, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { expectRejection } from '../../test/expect-error.js';
import { referenceBatches, referenceMlp } from '../../test/mlp.js';
import { TrainingError } from '../errors.js';
import { Linear } from '../layers/linear.js';
import { AdamW } from '../optim/adamw.js';
import { createLrScheduler } from '../optim/lr-schedules.js';
import { SGD } from '../optim/sgd.js';
import { Parameter } from '../parameter.js';
import { type StepInfo, train } from './train.js';

/** SGD that records the gradient of its first parameter at every step. */
class RecordingSGD extends SGD {
  readonly grads: number[] = [];
  override step(): void {
    this.grads.push(this.paramGroups[0]!.params[0]!.grad!.item());
    super.step();
  }
}

/** One weight w = 1 with lr 0 (so it stays 1); a batch is a number x with loss w·x, gradient x. */
function scalarSetup() {
  const w = new Parameter(tensor([1]));
  const optimizer = new RecordingSGD([w], { lr: 0 });
  const seen: number[] = [];
  const computeLoss = (x: number) => {
    seen.push(x);
    return w.mul(x).sum();
  };
  return { w, optimizer, computeLoss, seen };
}

describe('train: gradient accumulation', () => {
  it('divides each loss by its window size and steps once per window (a short last window too)', async () => {
    const { optimizer, computeLoss } = scalarSetup();
    const infos: StepInfo[] = [];
    const result = await train({
      data: [1, 2, 3, 4, 5],
      computeLoss,
      optimizer,
      gradientAccumulationSteps: 2,
      callbacks: { onStep: (info) => void infos.push(info) },
    });
    expect(optimizer.grads).toEqual([1.5, 3.5, 5]);
    expect(infos.map((i) => [i.step, i.loss, i.totalSteps])).toEqual([
      [1, 1.5, 3],
      [2, 3.5, 3],
      [3, 5, 3],
    ]);
    expect(result).toMatchObject({ step: 3, epochs: 1, stopReason: 'completed', loss: 5 });
  });

  it('leaves the scaling to computeLoss with scaleLossByWindow: false', async () => {
    const { optimizer, computeLoss } = scalarSetup();
    const windows: number[][] = [];
    await train({
      data: [1, 2, 3, 4, 5],
      computeLoss: (x, context) => {
        if (context.microStep === 0) windows.push([...context.window]);
        return computeLoss(x);
      },
      optimizer,
      gradientAccumulationSteps: 2,
      scaleLossByWindow: false,
    });
    expect(optimizer.grads).toEqual([3, 7, 5]);
    expect(windows).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('accumulating two halves equals one step on the whole batch', async () => {
    const run = async (halves: boolean) => {
      const layer = new Linear(3, 2, { init: false });
      layer.weight.assign(
        tensor([
          [0.1, -0.2, 0.3],
          [0.4, 0.5, -0.6],
        ]),
      );
      const optimizer = new AdamW(layer.parameters(), { lr: 0.1 });
      const x = tensor([
        [1, 2, 3],
        [4, 5, 6],
        [-1, 0, 1],
        [2, -2, 0],
      ]);
      const data = halves ? [x.narrow(0, 0, 2), x.narrow(0, 2, 2)] : [x];
      await train({
        data,
        computeLoss: (batch: Tensor) => layer.call(batch).square().mean(),
        optimizer,
        gradientAccumulationSteps: halves ? 2 : 1,
      });
      return Array.from(layer.weight.toArray() as Float32Array);
    };
    const [whole, halves] = [await run(false), await run(true)];
    whole.forEach((v, i) => {
      expect(Math.abs(v - halves[i]!)).toBeLessThan(1e-6);
    });
  });
});

describe('train: callbacks and cadence', () => {
  it('reports step, lr used, tokens, gradient norm and times; ends epochs', async () => {
    const w = new Parameter(tensor([3, 4]));
    const optimizer = new SGD([w], { lr: 0.1 });
    const scheduler = createLrScheduler('linear', optimizer, { numWarmupSteps: 1, numTrainingSteps: 4 });
    const infos: StepInfo[] = [];
    const epochs: number[] = [];
    await train({
      data: [[1, 1, 1], [2], [3, 3]],
      computeLoss: (batch: number[]) => w.mul(batch.length).sum(),
      optimizer,
      scheduler,
      epochs: 2,
      gradientAccumulationSteps: 2,
      maxGradNorm: 1,
      countTokens: (batch) => batch.length,
      callbacks: {
        onStep: (info) => void infos.push(info),
        onEpochEnd: ({ epoch, step }) => void epochs.push(epoch, step),
      },
    });
    expect(infos.map((i) => i.step)).toEqual([1, 2, 3, 4]);
    expect(infos.map((i) => i.epoch)).toEqual([0, 0, 1, 1]);
    expect(infos.map((i) => i.totalSteps)).toEqual([4, 4, 4, 4]);
    expect(infos.map((i) => i.lr)).toEqual([0, 0.1, 0.1 * (2 / 3), 0.1 * (1 / 3)]);
    expect(infos.map((i) => i.tokens)).toEqual([4, 2, 4, 2]);
    // Gradient of w·n summed over 2 elements is [n, n]: norm n·√2, averaged over the window.
    expect(infos[0]!.gradNorm).toBeCloseTo(2 * Math.SQRT2, 5);
    expect(infos[1]!.gradNorm).toBeCloseTo(2 * Math.SQRT2, 5);
    expect(infos.every((i, k) => i.stepMs >= 0 && i.elapsedMs >= (infos[k - 1]?.elapsedMs ?? 0))).toBe(true);
    expect(epochs).toEqual([0, 2, 1, 4]);
  });

  it('evaluates every N steps in eval mode without grad, and asks for checkpoints every M steps', async () => {
    const model = new Linear(2, 1);
    const optimizer = new SGD(model.parameters(), { lr: 0.01 });
    const events: string[] = [];
    const result = await train({
      model,
      data: [tensor([[1, 2]]), tensor([[3, 4]])],
      computeLoss: (x: Tensor) => {
        events.push(`loss:${model.training}`);
        return model.call(x).sum();
      },
      optimizer,
      maxSteps: 5,
      evaluate: {
        every: 2,
        fn: ({ step }) => {
          events.push(`eval@${step}:${model.training}:${isGradEnabled()}`);
          return { accuracy: step / 10 };
        },
      },
      checkpointEvery: 3,
      callbacks: {
        onEvaluate: ({ step, metrics }) => void events.push(`metrics@${step}:${JSON.stringify(metrics)}`),
        onCheckpoint: ({ step }) => void events.push(`checkpoint@${step}`),
      },
    });
    expect(result).toMatchObject({ step: 5, epochs: 3, stopReason: 'maxSteps' });
    expect(events.filter((e) => !e.startsWith('loss'))).toEqual([
      'eval@2:false:false',
      'metrics@2:{"accuracy":0.2}',
      'checkpoint@3',
      'eval@4:false:false',
      'metrics@4:{"accuracy":0.4}',
    ]);
    expect(events.filter((e) => e.startsWith('loss'))).toEqual(new Array(5).fill('loss:true'));
    expect(model.training).toBe(true);
  });

  it('awaits async callbacks and reads async and per-epoch data', async () => {
    const { optimizer, computeLoss, seen } = scalarSetup();
    const order: string[] = [];
    await train({
      data: async function* (epoch: number) {
        yield 10 * epoch + 1;
        yield 10 * epoch + 2;
      },
      computeLoss,
      optimizer,
      epochs: 2,
      callbacks: {
        onStep: async ({ step }) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          order.push(`step ${step}`);
        },
      },
    });
    expect(seen).toEqual([1, 2, 11, 12]);
    expect(order).toEqual(['step 1', 'step 2', 'step 3', 'step 4']);
  });
});

describe('train: stopping and resuming', () => {
  it('stops at an aborted signal between steps and resolves with the steps done', async () => {
    const { optimizer, computeLoss, seen } = scalarSetup();
    const controller = new AbortController();
    const result = await train({
      data: [1, 2, 3, 4, 5, 6],
      computeLoss,
      optimizer,
      signal: controller.signal,
      callbacks: { onStep: ({ step }) => (step === 2 ? controller.abort() : undefined) },
    });
    expect(result).toMatchObject({ step: 2, stopReason: 'aborted' });
    expect(seen).toEqual([1, 2]);
  });

  it('discards a partly accumulated window when aborted inside it', async () => {
    const { w, optimizer, computeLoss } = scalarSetup();
    const controller = new AbortController();
    const result = await train({
      data: [1, 2, 3, 4],
      computeLoss: (x: number) => {
        if (x === 3) controller.abort();
        return computeLoss(x);
      },
      optimizer,
      gradientAccumulationSteps: 2,
      signal: controller.signal,
    });
    expect(result).toMatchObject({ step: 1, stopReason: 'aborted' });
    expect(optimizer.grads).toEqual([1.5]);
    expect(w.grad).toBeNull();
  });

  it('does nothing with an already aborted signal', async () => {
    const { optimizer, computeLoss, seen } = scalarSetup();
    const result = await train({ data: [1], computeLoss, optimizer, signal: AbortSignal.abort() });
    expect(result).toMatchObject({ step: 0, stopReason: 'aborted', loss: undefined });
    expect(seen).toEqual([]);
  });

  it('resumes at startStep by skipping the windows already trained', async () => {
    const { optimizer, computeLoss, seen } = scalarSetup();
    const steps: number[] = [];
    await train({
      data: [1, 2, 3, 4, 5, 6, 7],
      computeLoss,
      optimizer,
      gradientAccumulationSteps: 2,
      epochs: 2,
      startStep: 3,
      callbacks: { onStep: ({ step }) => void steps.push(step) },
    });
    // 4 windows per epoch: windows 1–3 of epoch 0 are skipped.
    expect(seen).toEqual([7, 1, 2, 3, 4, 5, 6, 7]);
    expect(steps).toEqual([4, 5, 6, 7, 8]);
  });

  it('a run stopped and resumed from saved state ends where an uninterrupted run ends', async () => {
    const run = async (stops: number[]) => {
      const model = referenceMlp();
      const batches = referenceBatches();
      let optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
      let scheduler = createLrScheduler('cosine', optimizer, { numWarmupSteps: 1, numTrainingSteps: 6 });
      let step = 0;
      for (const maxSteps of stops) {
        const result = await train({
          model,
          data: batches,
          computeLoss: ({ x, y }) => crossEntropy(model.call(x), y),
          optimizer,
          scheduler,
          maxSteps,
          startStep: step,
        });
        step = result.step;
        // What the CLI does between runs: a fresh optimizer and scheduler restored from state dicts.
        const saved = { optimizer: optimizer.stateDict(), scheduler: scheduler.stateDict() };
        optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
        scheduler = createLrScheduler('cosine', optimizer, { numWarmupSteps: 1, numTrainingSteps: 6 });
        optimizer.loadStateDict(saved.optimizer);
        scheduler.loadStateDict(saved.scheduler);
      }
      return model.parameters().map((p) => Array.from(p.toArray() as Float32Array));
    };
    expect(await run([2, 6])).toEqual(await run([6]));
  });
});

describe('train: argument errors', () => {
  const w = new Parameter(zeros([2]));
  const optimizer = new SGD([w], { lr: 0.1 });
  const base = { data: [1], optimizer, computeLoss: () => w.sum() };

  it('are reported with exact messages', async () => {
    await expectRejection(
      train({ ...base, gradientAccumulationSteps: 0 }),
      TrainingError,
      '[train] gradientAccumulationSteps must be a positive integer, received 0',
    );
    await expectRejection(
      train({ ...base, maxSteps: 1.5 }),
      TrainingError,
      '[train] maxSteps must be a positive integer, received 1.5',
    );
    await expectRejection(
      train({ ...base, evaluate: { every: 0, fn: () => 0 } }),
      TrainingError,
      '[train] evaluate.every must be a positive integer, received 0',
    );
    await expectRejection(
      train({ ...base, startStep: -1 }),
      TrainingError,
      '[train] startStep must be a non-negative integer, received -1',
    );
    await expectRejection(
      train({ ...base, maxGradNorm: 0 }),
      TrainingError,
      '[train] maxGradNorm must be a positive number, received 0',
    );
    await expectRejection(
      train({ ...base, data: 3 as never }),
      TrainingError,
      '[train] data must be an iterable, an async iterable, or a function (epoch) => iterable of batches',
    );
    await expectRejection(train({ ...base, data: [] }), TrainingError, '[train] data produced no batches');
    await expectRejection(
      train({
        ...base,
        data: (function* () {
          yield 1;
        })(),
        epochs: 2,
      }),
      TrainingError,
      '[train] epoch 1 produced no batches: data is a one-shot iterator (a generator?); pass an array or a function (epoch) => iterable',
    );
  });

  it('rejects losses that cannot be trained on, with exact messages', async () => {
    await expectRejection(
      train({ ...base, computeLoss: () => w.mul(2) }),
      TrainingError,
      '[train] computeLoss must return a scalar loss, received shape [2]',
    );
    await expectRejection(
      train({ ...base, computeLoss: () => 3 as never }),
      TrainingError,
      '[train] computeLoss must return a scalar loss Tensor, received number',
    );
    await expectRejection(
      train({ ...base, computeLoss: () => tensor(1) }),
      TrainingError,
      '[train] the loss does not require grad: no trainable parameter took part in computeLoss (all parameters frozen, or it ran under noGrad?)',
    );
  });
});

describe('train: tidy', () => {
  const run = async (tidy: boolean, created: Tensor[] = []) => {
    const model = referenceMlp();
    const optimizer = new AdamW(model.parameters(), { lr: 1e-2 });
    const losses: number[] = [];
    await train({
      model,
      data: referenceBatches(),
      epochs: 2,
      optimizer,
      gradientAccumulationSteps: 2,
      tidy,
      computeLoss: ({ x, y }) => {
        const logits = model.call(x) as Tensor;
        created.push(logits);
        return crossEntropy(logits, y);
      },
      callbacks: { onStep: ({ loss }) => void losses.push(loss) },
    });
    return { losses, weights: model.parameters().map((p) => p.toArray()) };
  };

  it('trains exactly as without it and disposes what each micro-batch created', async () => {
    const created: Tensor[] = [];
    const tidied = await run(true, created);
    const plain = await run(false);
    expect(tidied.losses).toEqual(plain.losses);
    expect(tidied.weights).toEqual(plain.weights);
    expect(created.length).toBe(6);
    expect(created.every((t) => t.disposed)).toBe(true);
  });

  it('refuses an async computeLoss, which would outlive the scope', async () => {
    const { optimizer } = scalarSetup();
    const w = optimizer.paramGroups[0]!.params[0]!;
    await expectRejection(
      train({ data: [1], optimizer, tidy: true, computeLoss: async (x: number) => w.mul(x).sum() }),
      TrainingError,
      '[train] computeLoss returned a Promise, but tidy: true needs a synchronous computeLoss (its tensors are disposed when it returns); make it synchronous or leave tidy off',
    );
  });
});
