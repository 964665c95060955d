import { crossEntropy, getBackend } from '@lorakit/tensor';
import { describeEachBackend } from '@lorakit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { referenceBatches, referenceMlp } from '../../test/mlp.js';
import { expectClose, load, namesUnder, reference, trainingFile } from '../../test/reference-data.js';
import type { Parameter } from '../parameter.js';
import { train } from '../training/train.js';
import { AdamW } from './adamw.js';
import { clipGradNorm } from './clip-grad-norm.js';
import type { LrScheduler } from './lr-scheduler.js';
import { createLrScheduler } from './lr-schedules.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import { SGD } from './sgd.js';

interface RunConfig {
  optimizer: 'SGD' | 'AdamW';
  options: Record<string, unknown>;
  groups?: { lr_bias: number };
  schedule: [string, Record<string, number>] | null;
  max_grad_norm?: number;
  lrs: number[][];
  losses: number[];
  norms: number[];
  param_groups: number[][];
}

const runs = reference.runs as Record<string, RunConfig>;
const parameterNames = reference.mlp_parameters as string[];

/** generate.py's Python options in our spelling. */
function camelCase(options: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(options).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]),
  );
}

function build(
  run: RunConfig,
  named: [string, Parameter][],
): { optimizer: Optimizer; scheduler?: LrScheduler } {
  const options = camelCase(run.options);
  let params: ParamsInput<never> = named.map(([, p]) => p);
  if (run.groups) {
    const isDecayed = (n: string) => n.endsWith('weight') && !n.startsWith('norm');
    params = [
      { params: named.filter(([n]) => isDecayed(n)).map(([, p]) => p), weightDecay: 0.1 },
      {
        params: named.filter(([n]) => !isDecayed(n)).map(([, p]) => p),
        weightDecay: 0,
        lr: run.groups.lr_bias,
      },
    ] as never;
  }
  const optimizer =
    run.optimizer === 'SGD'
      ? new SGD(params as never, options as never)
      : new AdamW(params as never, options as never);
  const scheduler = run.schedule
    ? createLrScheduler(run.schedule[0], optimizer, camelCase(run.schedule[1]))
    : undefined;
  return { optimizer, scheduler };
}

function compareState(name: string, optimizer: Optimizer): void {
  const expected = namesUnder(trainingFile, `run.${name}.state.`);
  const state = optimizer.stateDict();
  expect([...state.state.keys()].sort(), `${name} state names`).toEqual(
    expected.map((k) => `state.${k}`).sort(),
  );
  for (const key of expected) {
    expectClose(
      state.state.get(`state.${key}`),
      load(trainingFile, `run.${name}.state.${key}`),
      `${name} ${key}`,
    );
  }
  expect(state.paramGroups.map((g) => g.params)).toEqual(runs[name]!.param_groups);
}

describe('reference runs', () => {
  it('cover SGD (momentum, nesterov, dampening, plain) and AdamW (amsgrad, groups, clipping)', () => {
    expect(Object.keys(runs).sort()).toEqual([
      'adamw',
      'adamw_amsgrad',
      'adamw_clip',
      'adamw_groups',
      'sgd_dampening',
      'sgd_momentum',
      'sgd_nesterov',
      'sgd_plain',
    ]);
  });
});

describeEachBackend('optimizers against PyTorch', (backend) => {
  it.each(Object.keys(runs))('%s: 3 steps from PyTorch gradients', (name) => {
    const run = runs[name]!;
    const model = referenceMlp();
    const named = model.namedParameters();
    expect(named.map(([n]) => n)).toEqual(parameterNames);
    const { optimizer, scheduler } = build(run, named);
    for (let step = 0; step < 3; step++) {
      expect(
        optimizer.paramGroups.map((g) => g.lr),
        `${name} lr at step ${step}`,
      ).toEqual(run.lrs[step]);
      for (const [n, p] of named) p.grad = load(trainingFile, `run.${name}.step${step}.grad.${n}`);
      optimizer.step();
      scheduler?.step();
      optimizer.zeroGrad();
    }
    for (const [n, p] of named) {
      expectClose(p, load(trainingFile, `run.${name}.param.${n}`), `${name} ${n}`);
      expect(p.grad).toBeNull();
    }
    compareState(name, optimizer);
  });

  it.each(Object.keys(runs))(
    '%s: 3 training steps end to end (forward, backward, train loop)',
    async (name) => {
      const run = runs[name]!;
      const model = referenceMlp();
      const { optimizer, scheduler } = build(run, model.namedParameters());
      const seen: { loss: number; lr: number; gradNorm: number | undefined }[] = [];
      await train({
        model,
        data: referenceBatches(),
        computeLoss: ({ x, y }) => crossEntropy(model.call(x), y),
        optimizer,
        scheduler,
        maxGradNorm: run.max_grad_norm,
        callbacks: { onStep: ({ loss, lr, gradNorm }) => void seen.push({ loss, lr, gradNorm }) },
      });
      expect(seen.map((s) => s.lr)).toEqual(run.lrs.map((l) => l[0]));
      seen.forEach((s, i) => {
        expect(Math.abs(s.loss - run.losses[i]!), `${name} loss ${i}`).toBeLessThan(1e-6);
        if (run.max_grad_norm) expect(Math.abs(s.gradNorm! - run.norms[i]!)).toBeLessThan(1e-6);
      });
      for (const [n, p] of model.namedParameters()) {
        expectClose(p, load(trainingFile, `run.${name}.param.${n}`), `${name} ${n}`);
      }
      compareState(name, optimizer);
    },
  );

  it('updates in place: the Parameter objects and their storage stay, no storage leaks per step', () => {
    const model = referenceMlp();
    const named = model.namedParameters();
    const optimizer = new AdamW(model.parameters(), { lr: 1e-2, amsgrad: true });
    const boxes = named.map(([, p]) => p.box);
    const live = (getBackend(backend) as { live?: () => number }).live;
    const counts: number[] = [];
    for (const [n, p] of named) p.grad = load(trainingFile, `run.adamw.step0.grad.${n}`);
    for (let step = 0; step < 3; step++) {
      optimizer.step();
      if (live) counts.push(live());
    }
    expect(model.namedParameters().map(([, p]) => p.box)).toEqual(boxes);
    if (live) expect(new Set(counts).size, `live storages after each step: ${counts}`).toBe(1);
  });

  it('skips parameters that are frozen or have no gradient, and gives them no state', () => {
    const model = referenceMlp();
    const named = model.namedParameters();
    const w1 = named[0]![1];
    const b1 = named[1]![1];
    const rest = named.slice(2);
    w1.requiresGrad = false;
    w1.grad = load(trainingFile, 'mlp.grad.fc1.weight');
    const before = [w1, b1].map((p) => Array.from(p.toArray() as Float32Array));
    const optimizer = new AdamW(model.parameters());
    for (const [n, p] of rest) p.grad = load(trainingFile, `mlp.grad.${n}`);
    optimizer.step();
    expect(Array.from(w1.toArray() as Float32Array)).toEqual(before[0]);
    expect(Array.from(b1.toArray() as Float32Array)).toEqual(before[1]);
    expect(optimizer.stateOf(w1)).toBeUndefined();
    expect(optimizer.stateOf(b1)).toBeUndefined();
    expect([...optimizer.stateDict().state.keys()].filter((k) => k.startsWith('state.0.'))).toEqual([]);
    expect(optimizer.stateOf(rest[0]![1])?.step).toBe(1);
  });
});

describeEachBackend('clipGradNorm against PyTorch', () => {
  const cases = reference.clip as Record<
    string,
    { maxNorm: number; normType: number | 'inf'; total: number }
  >;
  it.each(Object.keys(cases))('%s', (name) => {
    const { maxNorm, normType, total } = cases[name]!;
    const model = referenceMlp();
    const named = model.namedParameters();
    for (const [n, p] of named) p.grad = load(trainingFile, `mlp.grad.${n}`);
    const norm = clipGradNorm(
      named.map(([, p]) => p),
      maxNorm,
      normType === 'inf' ? Number.POSITIVE_INFINITY : normType,
    );
    expect(Math.abs(norm - total)).toBeLessThanOrEqual(1e-6 * total);
    for (const [n, p] of named) expectClose(p.grad, load(trainingFile, `clip.${name}.${n}`), `${name} ${n}`);
  });

  it('returns 0 when no parameter has a gradient', () => {
    const model = referenceMlp();
    expect(clipGradNorm(model.parameters(), 1)).toBe(0);
  });
});

describeEachBackend('the reference MLP', () => {
  it('has PyTorch logits, loss and gradients', () => {
    const model = referenceMlp();
    const { x, y } = referenceBatches()[0]!;
    const logits = model.call(x);
    expectClose(logits, load(trainingFile, 'mlp.logits'), 'logits');
    const loss = crossEntropy(logits, y);
    expect(Math.abs(loss.item() - reference.mlp_loss)).toBeLessThan(1e-6);
    loss.backward();
    for (const [n, p] of model.namedParameters()) {
      expectClose(p.grad, load(trainingFile, `mlp.grad.${n}`), `gradient of ${n}`);
    }
  });
});
