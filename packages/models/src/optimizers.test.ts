import { join } from 'node:path';
import { AdamW, type Optimizer, SGD } from '@lorakit/nn';
import { afterAll, describe, expect, it } from 'vitest';
import { readTensors, relativeError, testDataDir } from '../test/helpers.js';
import { loadModel, type PreTrainedModel } from './index.js';

// test-data/llama_gqa/optim.safetensors: all parameters of the tiny Llama after 3 steps of
// torch.optim.AdamW(lr 1e-2, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01) and of SGD(lr 0.1) on the
// same batch, and the loss before each step.
const dir = join(testDataDir, 'llama_gqa');
const expected = readTensors(join(dir, 'optim.safetensors'));
const inputs = readTensors(join(dir, 'expected.safetensors'));
const rows: Record<string, string>[] = [];

const RUNS: Record<string, (model: PreTrainedModel) => Optimizer> = {
  adamw: (model) =>
    new AdamW(model.parameters(), { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }),
  sgd: (model) => new SGD(model.parameters(), { lr: 0.1 }),
};

describe('3 optimizer steps on the tiny Llama match PyTorch', () => {
  for (const [tag, make] of Object.entries(RUNS)) {
    it(tag, async () => {
      const model = await loadModel(dir);
      model.train();
      const optimizer = make(model);
      const losses: number[] = [];
      for (let step = 0; step < 3; step++) {
        optimizer.zeroGrad();
        const { loss } = model.forward({
          inputIds: inputs.get('input_ids')!,
          attentionMask: inputs.get('attention_mask'),
          labels: inputs.get('labels'),
        });
        losses.push(loss!.item());
        loss!.backward();
        optimizer.step();
      }
      const expectedLosses = Array.from(expected.get(`${tag}.losses`)!.toArray() as Float32Array);
      for (const [i, loss] of losses.entries()) expect(loss).toBeCloseTo(expectedLosses[i]!, 5);
      let worst = 0;
      let worstName = '';
      for (const [name, parameter] of model.namedParameters()) {
        const error = relativeError(parameter, expected.get(`${tag}.${name}`)!);
        if (error > worst) [worst, worstName] = [error, name];
      }
      rows.push({
        optimizer: tag,
        losses: losses.map((l) => l.toFixed(6)).join(' '),
        worstParamRelError: worst.toExponential(2),
        worstName,
      });
      expect(worst, `${tag}: ${worstName}`).toBeLessThan(1e-4);
    });
  }
  afterAll(() => console.table(rows));
});
