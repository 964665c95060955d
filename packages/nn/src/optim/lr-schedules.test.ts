import { zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { reference } from '../../test/reference-data.js';
import { TrainingError } from '../errors.js';
import { Parameter } from '../parameter.js';
import { AdamW } from './adamw.js';
import { LrScheduler } from './lr-scheduler.js';
import { createLrScheduler, listLrSchedules, registerLrSchedule } from './lr-schedules.js';
import { SGD } from './sgd.js';

const schedules = reference.schedules as Record<
  string,
  { name: string; options: Record<string, number>; lrs: number[] }
>;

function camelCase(options: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

function sgd(lr = 0.1): SGD {
  return new SGD([new Parameter(zeros([1]))], { lr });
}

describe('learning-rate schedules against transformers', () => {
  it.each(Object.keys(schedules))('%s: 10 steps', (key) => {
    const { name, options, lrs } = schedules[key]!;
    const optimizer = sgd();
    const scheduler = createLrScheduler(name, optimizer, camelCase(options));
    const got: number[] = [];
    for (let i = 0; i < 10; i++) {
      got.push(optimizer.paramGroups[0]!.lr);
      optimizer.step();
      scheduler.step();
    }
    got.forEach((lr, i) => {
      expect(Math.abs(lr - lrs[i]!), `step ${i}: ${lr} vs ${lrs[i]}`).toBeLessThanOrEqual(1e-15);
    });
    expect(scheduler.lastStep).toBe(10);
  });
});

describe('LrScheduler', () => {
  it('scales each group from its own base learning rate', () => {
    const a = new Parameter(zeros([1]));
    const b = new Parameter(zeros([1]));
    const optimizer = new AdamW([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    const scheduler = createLrScheduler('linear', optimizer, { numWarmupSteps: 2, numTrainingSteps: 4 });
    expect(scheduler.getLastLr()).toEqual([0, 0]);
    scheduler.step();
    expect(scheduler.getLastLr()).toEqual([0.05, 0.25]);
    expect(scheduler.baseLrs).toEqual([0.1, 0.5]);
  });

  it('accepts one function per group', () => {
    const optimizer = new SGD(
      [{ params: [new Parameter(zeros([1]))] }, { params: [new Parameter(zeros([1]))] }],
      {
        lr: 1,
      },
    );
    const scheduler = new LrScheduler(optimizer, [(s) => s, (s) => 2 * s]);
    scheduler.step();
    expect(scheduler.getLastLr()).toEqual([1, 2]);
    expect(() => new LrScheduler(optimizer, [(s) => s])).toThrow(
      new TrainingError('[LrScheduler] needs one function or one per parameter group (2), received 1 values'),
    );
  });

  it('resumes from a state dict at the same learning rate', () => {
    const first = sgd();
    const scheduler = createLrScheduler('cosine', first, { numWarmupSteps: 1, numTrainingSteps: 10 });
    for (let i = 0; i < 4; i++) scheduler.step();
    const state = scheduler.stateDict();
    expect(state).toEqual({ lastStep: 4, baseLrs: [0.1] });

    const second = sgd(0.1);
    second.paramGroups[0]!.lr = 0.0123; // a restored optimizer holds the scheduled lr, not the base
    const resumed = createLrScheduler('cosine', second, { numWarmupSteps: 1, numTrainingSteps: 10 });
    resumed.loadStateDict(state);
    expect(resumed.getLastLr()).toEqual(scheduler.getLastLr());
    scheduler.step();
    resumed.step();
    expect(resumed.getLastLr()).toEqual(scheduler.getLastLr());
  });

  it('lists the registered schedules and rejects unknown and duplicate names', () => {
    expect(listLrSchedules()).toEqual(['constant', 'constant_with_warmup', 'linear', 'cosine']);
    expect(() => createLrScheduler('cosine_with_restarts', sgd())).toThrow(
      new TrainingError(
        '[createLrScheduler] unknown schedule "cosine_with_restarts"; registered: constant, constant_with_warmup, linear, cosine',
      ),
    );
    expect(() => registerLrSchedule('linear', () => () => 1)).toThrow(
      new TrainingError('[registerLrSchedule] "linear" is already registered'),
    );
  });

  it('validates lengths with exact messages', () => {
    expect(() => createLrScheduler('linear', sgd(), { numWarmupSteps: 2 })).toThrow(
      new TrainingError('[linear schedule] numTrainingSteps must be a positive integer, received undefined'),
    );
    expect(() => createLrScheduler('cosine', sgd(), { numWarmupSteps: -1, numTrainingSteps: 3 })).toThrow(
      new TrainingError('[cosine schedule] numWarmupSteps must be a non-negative integer, received -1'),
    );
    expect(() => createLrScheduler('cosine', sgd(), { numTrainingSteps: 3, numCycles: 0 })).toThrow(
      new TrainingError('[cosine schedule] numCycles must be a positive number, received 0'),
    );
  });
});
