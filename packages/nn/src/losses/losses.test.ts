import { tensor } from '@lorakit/tensor';
import { describeEachBackend } from '@lorakit/tensor/testing';
import { describe, expect, it } from 'vitest';
import { expectError } from '../../test/expect-error.js';
import { expectClose, load, reference, trainingFile } from '../../test/reference-data.js';
import { ModuleError } from '../errors.js';
import { causalLmLoss } from './causal-lm-loss.js';
import { CrossEntropyLoss } from './cross-entropy-loss.js';
import { MSELoss } from './mse-loss.js';

const close = (a: number, b: number) => expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThanOrEqual(1e-6);

describeEachBackend('losses against PyTorch', () => {
  it('CrossEntropyLoss: reductions, ignore index, label smoothing, [N, C, d] logits', () => {
    const logits = load(trainingFile, 'ce.logits');
    const target = load(trainingFile, 'ce.target');
    const ce = reference.cross_entropy;
    close(new CrossEntropyLoss().call(logits, target).item(), ce.mean);
    close(new CrossEntropyLoss({ reduction: 'sum' }).call(logits, target).item(), ce.sum);
    close(new CrossEntropyLoss({ labelSmoothing: 0.1 }).call(logits, target).item(), ce.smooth);
    close(new CrossEntropyLoss({ ignoreIndex: 2 }).call(logits, target.clamp(0)).item(), ce.ignore2);
    expectClose(
      new CrossEntropyLoss({ reduction: 'none' }).call(logits, target),
      load(trainingFile, 'ce.none'),
      'ce none',
    );
    const loss = new CrossEntropyLoss().call(
      load(trainingFile, 'ce.logits3'),
      load(trainingFile, 'ce.target3'),
    );
    close(loss.item(), ce.seq);
  });

  it('MSELoss: mean, sum, none', () => {
    const input = load(trainingFile, 'mse.in');
    const target = load(trainingFile, 'mse.target');
    close(new MSELoss().call(input, target).item(), reference.mse.mean);
    close(new MSELoss({ reduction: 'sum' }).call(input, target).item(), reference.mse.sum);
    expectClose(
      new MSELoss({ reduction: 'none' }).call(input, target),
      load(trainingFile, 'mse.none'),
      'mse',
    );
  });

  it("causalLmLoss matches transformers' ForCausalLMLoss (mean, numItemsInBatch, gradient)", () => {
    const logits = load(trainingFile, 'lm.logits').setRequiresGrad();
    const labels = load(trainingFile, 'lm.labels');
    const loss = causalLmLoss(logits, labels);
    close(loss.item(), reference.causal_lm.mean);
    close(causalLmLoss(logits, labels, { numItemsInBatch: 10 }).item(), reference.causal_lm.items10);
    loss.backward();
    expectClose(logits.grad, load(trainingFile, 'lm.grad'), 'causal lm gradient');
  });
});

describe('loss arguments', () => {
  it('are validated with exact messages', () => {
    expectError(
      () => new CrossEntropyLoss({ reduction: 'avg' as never }),
      ModuleError,
      '[CrossEntropyLoss] reduction must be one of mean, sum, none, received "avg"',
    );
    expectError(
      () => new CrossEntropyLoss({ labelSmoothing: 1 }),
      ModuleError,
      '[CrossEntropyLoss] labelSmoothing must be in [0, 1), received 1',
    );
    expectError(
      () => new CrossEntropyLoss({ ignoreIndex: 0.5 }),
      ModuleError,
      '[CrossEntropyLoss] ignoreIndex must be an integer, received 0.5',
    );
    expectError(
      () => new MSELoss({ reduction: 'mean ' as never }),
      ModuleError,
      '[MSELoss] reduction must be one of mean, sum, none, received "mean "',
    );
    expectError(
      () => new MSELoss().call(tensor([1, 2, 3]), tensor([[1, 2, 3]])),
      ModuleError,
      '[MSELoss] input [3] and target [1, 3] must have the same shape',
    );
    const logits = tensor([[[0.1, 0.2]]]);
    expectError(
      () => causalLmLoss(logits, tensor([[1, 2]], { dtype: 'int64' })),
      ModuleError,
      '[causalLmLoss] labels [1, 2] do not match logits [1, 1, 2]',
    );
    expectError(
      () => causalLmLoss(tensor([[0.1, 0.2]]), tensor([1], { dtype: 'int64' })),
      ModuleError,
      '[causalLmLoss] expects logits [batch, seq, vocab] and labels [batch, seq], received [1, 2] and [1]',
    );
    expectError(
      () => causalLmLoss(logits, tensor([[1]], { dtype: 'int64' }), { numItemsInBatch: 0 }),
      ModuleError,
      '[causalLmLoss] numItemsInBatch must be a positive number, received 0',
    );
  });
});
