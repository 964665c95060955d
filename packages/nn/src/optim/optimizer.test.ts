import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { crossEntropy, tensor, zeros } from '@lorakit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { expectError } from '../../test/expect-error.js';
import { referenceBatches, referenceMlp } from '../../test/mlp.js';
import { TrainingError } from '../errors.js';
import { Parameter } from '../parameter.js';
import { AdamW } from './adamw.js';
import type { LrScheduler } from './lr-scheduler.js';
import { createLrScheduler } from './lr-schedules.js';
import type { Optimizer } from './optimizer.js';
import { loadOptimizerState, saveOptimizerState } from './optimizer-checkpoint.js';
import { SGD } from './sgd.js';

const p = () => new Parameter(zeros([2]));

describe('optimizer arguments', () => {
  it('rejects bad hyperparameters with exact messages', () => {
    const x = p();
    expectError(() => new AdamW([]), TrainingError, '[AdamW] received an empty parameter list');
    expectError(
      () => new SGD([x], { lr: -1 }),
      TrainingError,
      '[SGD] lr must be a non-negative number, received -1',
    );
    expectError(
      () => new SGD([x], {} as never),
      TrainingError,
      '[SGD] lr must be a non-negative number, received undefined',
    );
    expectError(
      () => new AdamW([x], { lr: Number.NaN }),
      TrainingError,
      '[AdamW] lr must be a non-negative number, received NaN',
    );
    expectError(
      () => new AdamW([x], { betas: [0.9, 1] }),
      TrainingError,
      '[AdamW] betas[1] must be in [0, 1), received 1',
    );
    expectError(
      () => new AdamW([x], { betas: [-0.1, 0.999] }),
      TrainingError,
      '[AdamW] betas[0] must be in [0, 1), received -0.1',
    );
    expectError(
      () => new AdamW([x], { betas: [0.9] as never }),
      TrainingError,
      '[AdamW] betas must be a pair [beta1, beta2], received 1 values',
    );
    expectError(
      () => new AdamW([x], { eps: -1e-8 }),
      TrainingError,
      '[AdamW] eps must be a non-negative number, received -1e-8',
    );
    expectError(
      () => new SGD([x], { lr: 0.1, nesterov: true }),
      TrainingError,
      '[SGD] nesterov needs momentum > 0 and dampening 0, received momentum 0 and dampening 0',
    );
    expectError(
      () => new SGD([x], { lr: 0.1, momentum: 0.9, weightDecay: -0.1 }),
      TrainingError,
      '[SGD] weightDecay must be a non-negative number, received -0.1',
    );
    expectError(
      () => new AdamW([x], { weight_decay: 0.1 } as never),
      TrainingError,
      '[AdamW] unknown option "weight_decay"; valid options: lr, betas, eps, weightDecay, amsgrad',
    );
  });

  it('rejects bad parameters with exact messages', () => {
    const x = p();
    const y = p();
    expectError(
      () => new AdamW([x, y, x]),
      TrainingError,
      '[AdamW] a parameter appears more than once: group 0 index 0 and group 0 index 2',
    );
    expectError(
      () => new AdamW([{ params: [x] }, { params: [y, x] }]),
      TrainingError,
      '[AdamW] a parameter appears more than once: group 0 index 0 and group 1 index 1',
    );
    expectError(
      () => new SGD(x as never, { lr: 1 }),
      TrainingError,
      '[SGD] params must be an iterable of tensors or of parameter groups ({ params, …options }), received a Tensor of shape [2]',
    );
    expectError(
      () => new SGD([x.setRequiresGrad().mul(2)], { lr: 1 }),
      TrainingError,
      '[SGD] parameter 0 of group 0 is not a leaf tensor (it is the output of an op); optimize leaves such as Parameters',
    );
    expectError(
      () => new SGD([x, tensor([1, 2], { dtype: 'int64' })], { lr: 1 }),
      TrainingError,
      '[SGD] parameter 1 of group 0 has dtype int64; only floating-point tensors can be optimized',
    );
    expectError(
      () => new SGD([x, 3] as never, { lr: 1 }),
      TrainingError,
      '[SGD] parameter 1 of group 0 must be a Tensor, received number 3',
    );
    expectError(
      () => new AdamW([{ params: [x] }, { params: [y], lr: -0.1 }]),
      TrainingError,
      '[AdamW] lr must be a non-negative number, received -0.1 (parameter group 1)',
    );
    expectError(
      () => new AdamW([{ params: [x], weight_decay: 0.1 } as never]),
      TrainingError,
      '[AdamW] unknown option "weight_decay" (parameter group 0); valid options: lr, betas, eps, weightDecay, amsgrad',
    );
    expectError(() => new AdamW([{ params: [] }]), TrainingError, '[AdamW] received an empty parameter list');
  });

  it('fills group options from the defaults and adds groups later', () => {
    const [x, y, z] = [p(), p(), p()];
    const optimizer = new AdamW([{ params: [x] }, { params: [y], weightDecay: 0, betas: [0.8, 0.9] }], {
      lr: 0.1,
    });
    expect(optimizer.paramGroups.map(({ params, ...o }) => ({ n: params.length, ...o }))).toEqual([
      { n: 1, lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false },
      { n: 1, lr: 0.1, betas: [0.8, 0.9], eps: 1e-8, weightDecay: 0, amsgrad: false },
    ]);
    optimizer.addParamGroup({ params: [z], lr: 0.5 });
    expect(optimizer.paramGroups[2]!.lr).toBe(0.5);
    expect(optimizer.parameters()).toEqual([x, y, z]);
    expectError(
      () => optimizer.addParamGroup({ params: [y] }),
      TrainingError,
      '[AdamW] a parameter appears more than once: group 1 index 0 and group 3 index 0',
    );
  });

  it('zeroGrad drops gradients', () => {
    const x = p();
    x.grad = tensor([1, 2]);
    const optimizer = new SGD([x], { lr: 1 });
    optimizer.zeroGrad();
    expect(x.grad).toBeNull();
  });
});

/** Optimizer steps `from` … `to` − 1 of the reference MLP, one reference batch each. */
function steps(
  optimizer: Optimizer,
  model: ReturnType<typeof referenceMlp>,
  from: number,
  to: number,
  scheduler?: LrScheduler,
): void {
  const batches = referenceBatches();
  for (let i = from; i < to; i++) {
    const { x, y } = batches[i % batches.length]!;
    crossEntropy(model.call(x), y).backward();
    optimizer.step();
    scheduler?.step();
    optimizer.zeroGrad();
  }
}

function values(model: ReturnType<typeof referenceMlp>): number[][] {
  return model.parameters().map((q) => Array.from(q.toArray() as Float32Array));
}

describe('optimizer state dicts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lorakit-nn-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['AdamW', (params: Parameter[]) => new AdamW(params, { lr: 1e-2, amsgrad: true })],
    ['SGD', (params: Parameter[]) => new SGD(params, { lr: 0.1, momentum: 0.9, nesterov: true })],
  ] as const)('%s: resuming from a state dict continues exactly like an uninterrupted run', (_, make) => {
    const straight = referenceMlp();
    steps(make(straight.parameters()), straight, 0, 5);

    const first = referenceMlp();
    const before = make(first.parameters());
    steps(before, first, 0, 2);
    const dict = before.stateDict();
    const json = JSON.parse(JSON.stringify(dict.paramGroups));
    const second = referenceMlp();
    second.loadStateDict(first.stateDict());
    const after = make(second.parameters());
    after.paramGroups[0]!.lr = 123; // restored from the dict
    after.loadStateDict({ optimizer: dict.optimizer, state: dict.state, paramGroups: json });
    expect(after.paramGroups[0]!.lr).toBe(before.paramGroups[0]!.lr);
    steps(after, second, 2, 5);
    expect(values(second)).toEqual(values(straight));
  });

  it('names tensors like PyTorch: state.<index>.<buffer>, step as a float32 scalar', () => {
    const model = referenceMlp();
    const optimizer = new AdamW(model.parameters());
    steps(optimizer, model, 0, 2);
    const { state, paramGroups } = optimizer.stateDict();
    expect([...state.keys()].slice(0, 3)).toEqual(['state.0.step', 'state.0.exp_avg', 'state.0.exp_avg_sq']);
    expect(state.size).toBe(18);
    expect(state.get('state.5.step')!.shape).toEqual([]);
    expect(state.get('state.5.step')!.item()).toBe(2);
    expect(paramGroups).toEqual([
      {
        lr: 1e-3,
        betas: [0.9, 0.999],
        eps: 1e-8,
        weightDecay: 0.01,
        amsgrad: false,
        params: [0, 1, 2, 3, 4, 5],
      },
    ]);
  });

  it('rejects state dicts that do not fit, with exact messages', () => {
    const [x, y] = [p(), p()];
    const optimizer = new AdamW([x, y]);
    const groups = optimizer.stateDict().paramGroups;
    const good = () =>
      new Map([
        ['state.0.step', tensor(1)],
        ['state.0.exp_avg', zeros([2])],
        ['state.0.exp_avg_sq', zeros([2])],
      ]);
    expectError(
      () => optimizer.loadStateDict({ optimizer: 'SGD', state: new Map(), paramGroups: groups }),
      TrainingError,
      '[AdamW] cannot load the state of a SGD optimizer',
    );
    expectError(
      () =>
        optimizer.loadStateDict({
          optimizer: 'AdamW',
          state: new Map(),
          paramGroups: [...groups, ...groups],
        }),
      TrainingError,
      '[AdamW] the state dict has 2 parameter groups, this optimizer has 1',
    );
    expectError(
      () =>
        optimizer.loadStateDict({
          optimizer: 'AdamW',
          state: new Map(),
          paramGroups: [{ ...groups[0]!, params: [0] }],
        }),
      TrainingError,
      "[AdamW] parameter group 0 of the state dict holds 1 parameters, this optimizer's holds 2",
    );
    const wrongShape = good();
    wrongShape.set('state.0.exp_avg', zeros([3]));
    expectError(
      () => optimizer.loadStateDict({ optimizer: 'AdamW', state: wrongShape, paramGroups: groups }),
      TrainingError,
      '[AdamW] "state.0.exp_avg" has shape [3] but parameter 0 has shape [2]',
    );
    const unknown = good();
    unknown.set('state.2.exp_avg', zeros([2]));
    expectError(
      () => optimizer.loadStateDict({ optimizer: 'AdamW', state: unknown, paramGroups: groups }),
      TrainingError,
      '[AdamW] unexpected state tensor "state.2.exp_avg"; expected state.<0…1>.<exp_avg|exp_avg_sq|max_exp_avg_sq|step>',
    );
    const missing = good();
    missing.delete('state.0.exp_avg_sq');
    missing.delete('state.0.step');
    expectError(
      () => optimizer.loadStateDict({ optimizer: 'AdamW', state: missing, paramGroups: groups }),
      TrainingError,
      '[AdamW] the state of parameter 0 lacks state.0.exp_avg_sq, state.0.step',
    );
    expectError(
      () =>
        optimizer.loadStateDict({
          optimizer: 'AdamW',
          state: good(),
          paramGroups: [{ ...groups[0]!, lr: -1 }],
        }),
      TrainingError,
      '[AdamW] lr must be a non-negative number, received -1 (state dict parameter group 0)',
    );
    // Nothing was changed by the rejected dicts.
    expect(optimizer.stateOf(x)).toBeUndefined();
    expect(optimizer.paramGroups[0]!.lr).toBe(1e-3);
  });

  it('saves to and loads from safetensors with the scheduler and step', async () => {
    const path = join(dir, 'optimizer.safetensors');
    const straight = referenceMlp();
    const straightOptimizer = new AdamW(straight.parameters(), { lr: 1e-2 });
    const straightScheduler = createLrScheduler('cosine', straightOptimizer, {
      numWarmupSteps: 1,
      numTrainingSteps: 5,
    });
    steps(straightOptimizer, straight, 0, 5, straightScheduler);

    const first = referenceMlp();
    const optimizer = new AdamW(first.parameters(), { lr: 1e-2 });
    const scheduler = createLrScheduler('cosine', optimizer, { numWarmupSteps: 1, numTrainingSteps: 5 });
    steps(optimizer, first, 0, 3, scheduler);
    await saveOptimizerState(path, optimizer, { scheduler, step: 3, metadata: { run: 'test' } });

    const file = SafetensorsFile.open(path);
    expect(file.metadata.format).toBe('lorakit-optimizer-state');
    expect(file.metadata.optimizer).toBe('AdamW');
    expect(JSON.parse(file.metadata.scheduler!)).toEqual({ lastStep: 3, baseLrs: [1e-2] });
    expect(file.info('state.0.exp_avg').dtype).toBe('F32');
    file.close();

    const second = referenceMlp();
    second.loadStateDict(first.stateDict());
    const resumed = new AdamW(second.parameters(), { lr: 1e-2 });
    const resumedScheduler = createLrScheduler('cosine', resumed, { numWarmupSteps: 1, numTrainingSteps: 5 });
    expect(loadOptimizerState(path, resumed, resumedScheduler)).toEqual({
      step: 3,
      metadata: { run: 'test' },
    });
    expect(resumed.paramGroups[0]!.lr).toBe(optimizer.paramGroups[0]!.lr);
    steps(resumed, second, 3, 5, resumedScheduler);
    expect(values(second)).toEqual(values(straight));
  });
});
