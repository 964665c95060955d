import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { noGrad } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { afterAll, describe, expect, it } from 'vitest';
import { compare, readTensors } from '../test/helpers.js';
import { loadModel } from './index.js';

const fixtures = peftFixturesDir();
const cases = readdirSync(fixtures)
  .filter((name) => existsSync(join(fixtures, name, 'base', 'config.json')))
  .sort();
const table: { case: string; tensor: string; maxAbs: string; atol: number; rtol: number; result: string }[] =
  [];

describe('base models reproduce logits_base of the PEFT fixtures', () => {
  it('finds the fixture cases with a base model', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of cases) {
    const dir = join(fixtures, name);
    const io = readTensors(join(dir, 'io.safetensors'));
    const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as { atol?: number; rtol?: number };
    const atol = spec.atol ?? 1e-4;
    const rtol = spec.rtol ?? 1e-4;
    // PiSSA/OLoRA move part of each weight into the adapter but keep the function: logits_after_init is
    // the base model's output too, checked where no logits_base was stored.
    const key = io.has('logits_base')
      ? 'logits_base'
      : io.has('logits_after_init')
        ? 'logits_after_init'
        : null;
    it(`${name}: base/ loads strictly`, async () => {
      const model = await loadModel(join(dir, 'base'));
      expect(model.numParameters()).toBeGreaterThan(0);
    });
    const run = key ? it : it.skip;
    run(
      `${name}: ${key ?? 'skipped — io.safetensors stores no base-model logits for this case'}`,
      async () => {
        const model = await loadModel(join(dir, 'base'));
        model.eval();
        const output = noGrad(() =>
          model.forward({ inputIds: io.get('input_ids')!, attentionMask: io.get('attention_mask') }),
        );
        const { maxAbs, ok } = compare(output.logits, io.get(key!)!, atol, rtol);
        table.push({
          case: name,
          tensor: key!,
          maxAbs: maxAbs.toExponential(2),
          atol,
          rtol,
          result: ok ? 'ok' : 'FAIL',
        });
        expect(ok, `${name}: max abs error ${maxAbs}`).toBe(true);
      },
    );
  }

  afterAll(() => {
    console.table(table);
  });
});
