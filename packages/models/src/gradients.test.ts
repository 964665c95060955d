import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, readTensors, relativeError, testDataDir } from '../test/helpers.js';
import { loadModel } from './index.js';

// Tiny models saved by test-data/generate.py with the logits, loss and the gradient of every parameter
// that transformers computes for the model's own loss (causal LM, masked LM, classification, regression).
const CASES = [
  'llama_gqa',
  'llama_tied_llama3',
  'qwen2',
  'mistral',
  'gpt2',
  'bert_mlm',
  'bert_seqcls',
  'llama_seqcls',
  'gpt2_regression',
];
const GRAD_RTOL = 1e-4;
// Gradients that are zero in exact arithmetic (a key bias shifts every score of a row equally) come out as
// float32 noise (~1e-12) in both implementations: errors are relative to at least this magnitude.
const GRAD_FLOOR = 1e-6;
const rows: Record<string, string | number>[] = [];

describe('logits, loss and gradients match transformers', () => {
  for (const name of CASES) {
    it(name, async () => {
      const dir = join(testDataDir, name);
      const expected = readTensors(join(dir, 'expected.safetensors'));
      const model = await loadModel(dir);
      model.train(); // dropout is 0 in these configs, as in the generator
      const output = model.forward({
        inputIds: expected.get('input_ids')!,
        attentionMask: expected.get('attention_mask'),
        tokenTypeIds: expected.get('token_type_ids'),
        labels: expected.get('labels'),
      });
      const logits = compare(output.logits, expected.get('logits')!, 1e-4, 1e-4);
      expect(logits.ok, `${name} logits: max abs error ${logits.maxAbs}`).toBe(true);
      const loss = output.loss!.item();
      const expectedLoss = expected.get('loss')!.item();
      expect(Math.abs(loss - expectedLoss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expectedLoss)));

      output.loss!.backward();
      const parameters = model.namedParameters();
      const gradNames = [...expected.keys()].filter((k) => k.startsWith('grad.')).map((k) => k.slice(5));
      expect(parameters.map(([n]) => n).sort()).toEqual(gradNames.sort());
      let worst = 0;
      let worstName = '';
      for (const [parameterName, parameter] of parameters) {
        expect(parameter.grad, `${parameterName} has no gradient`).not.toBeNull();
        const error = relativeError(parameter.grad!, expected.get(`grad.${parameterName}`)!, GRAD_FLOOR);
        if (error > worst) [worst, worstName] = [error, parameterName];
      }
      rows.push({
        case: name,
        logitsMaxAbs: logits.maxAbs.toExponential(2),
        lossError: Math.abs(loss - expectedLoss).toExponential(2),
        parameters: parameters.length,
        worstGradRelError: worst.toExponential(2),
        worstGrad: worstName,
      });
      expect(worst, `${name}: gradient of ${worstName}`).toBeLessThan(GRAD_RTOL);
    });
  }
  afterAll(() => console.table(rows));
});
