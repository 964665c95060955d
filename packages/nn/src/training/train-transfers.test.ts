import {
  crossEntropy,
  manualSeed,
  randint,
  registerBackend,
  setDefaultBackend,
  type Tensor,
  unregisterBackend,
  where,
} from '@lorakit/tensor';
import { createOpaqueBackend, type TransferCounts } from '@lorakit/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Embedding } from '../layers/embedding.js';
import { Linear } from '../layers/linear.js';
import { Module } from '../module.js';
import { AdamW } from '../optim/adamw.js';
import { type StepInfo, type TrainResult, train } from './train.js';

class TinyLm extends Module {
  readonly embed = this.registerModule('embed', new Embedding(11, 6));
  readonly head = this.registerModule('head', new Linear(6, 11));
  forward(ids: Tensor): Tensor {
    return this.head.call(this.embed.call(ids)) as Tensor;
  }
}

interface Run {
  readonly infos: StepInfo[];
  readonly result: TrainResult;
  /** Host transfers during each step (from the end of the previous step to this one's onStep). */
  readonly perStep: TransferCounts[];
  readonly weights: () => number[][];
}

/** Trains a token-embedding model with an ignored target, accumulation and clipping on `backend`. */
async function trainOn(backend: string, transfers: TransferCounts | undefined, tidy: boolean): Promise<Run> {
  setDefaultBackend(backend);
  try {
    manualSeed(3);
    const model = new TinyLm();
    const batches = [0, 1, 2, 3, 4].map(() => ({
      ids: randint(0, 11, [2, 5]),
      targets: randint(0, 11, [10]),
    }));
    batches[1]!.targets = where(batches[1]!.targets.ne(4), batches[1]!.targets, -100);
    const optimizer = new AdamW(model.parameters(), { lr: 0.05 });
    const infos: StepInfo[] = [];
    const perStep: TransferCounts[] = [];
    let mark = { toHost: 0, fromHost: 0, ...transfers };
    const result = await train({
      model,
      data: batches,
      epochs: 2,
      optimizer,
      gradientAccumulationSteps: 2,
      maxGradNorm: 0.5,
      tidy,
      computeLoss: ({ ids, targets }) => crossEntropy((model.call(ids) as Tensor).reshape(10, 11), targets),
      callbacks: {
        onStep: (info) => {
          infos.push(info);
          if (transfers) {
            perStep.push({
              toHost: transfers.toHost - mark.toHost,
              fromHost: transfers.fromHost - mark.fromHost,
            });
            mark = { ...transfers };
          }
        },
      },
    });
    return {
      infos,
      result,
      perStep,
      weights: () => model.parameters().map((p) => Array.from(p.toArray() as Float32Array)),
    };
  } finally {
    setDefaultBackend(undefined);
  }
}

describe('train on a device-like backend', () => {
  const name = 'opaque-train';
  const device = createOpaqueBackend(name);
  beforeAll(() => registerBackend(device, -2));
  afterAll(() => unregisterBackend(name));

  for (const tidy of [false, true]) {
    it(`makes no host transfer in a step until the loss is read${tidy ? ' (tidy)' : ''}`, async () => {
      const run = await trainOn(name, device.transfers, tidy);
      expect(run.perStep).toHaveLength(6);
      expect(run.perStep).toEqual(run.perStep.map(() => ({ toHost: 0, fromHost: 0 })));

      // Reading a step's loss and gradient norm is one transfer each, once.
      const before = device.transfers.toHost;
      const read = run.infos.map((info) => [info.loss, info.gradNorm, info.loss]);
      expect(device.transfers.toHost - before).toBe(12);
      expect(run.result.loss).toBe(read[5]![0]);

      // The same numbers as on the host backend, where every check reads data at once.
      const reference = await trainOn('js', undefined, tidy);
      expect(read).toEqual(reference.infos.map((info) => [info.loss, info.gradNorm, info.loss]));
      expect(run.weights()).toEqual(reference.weights());
      expect(run.result.step).toBe(6);
    });
  }
});
