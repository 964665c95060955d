import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfigJson, getPeftModel, LoraConfig, LoraLayer, parsePythonJson } from '@lorakit/lora';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { getEvaStateDict, loadEvaStateDict } from '../src/index.js';
import { initEvaBatches, loadInitEvaModel } from './fixture.js';
import { maxErrorUpToRowSign } from './helpers.js';

// Made by test-data/make_eva_references.py with PEFT 0.21 on the init_eva fixture's model and batches.
const dataDir = join(import.meta.dirname, '..', 'test-data');
const references = readTensorFile(join(dataDir, 'eva-extra.safetensors'));
interface ExtraCase {
  lora: Record<string, unknown>;
  eva: Record<string, unknown>;
  generic: boolean;
  ranks: [string, number][];
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, unknown>;
  target_modules: string[];
}
const cases = (
  parsePythonJson(readFileSync(join(dataDir, 'eva-extra.json'), 'utf8')) as {
    cases: Record<string, ExtraCase>;
  }
).cases;

const PREFIX = 'base_model.model.';
/** As in init-eva.test.ts: float32-rounding differences amplified over the incremental updates. */
const COMPONENT_TOLERANCE = 2e-5;

describe('EVA against PEFT 0.21 on more configurations', () => {
  for (const [name, spec] of Object.entries(cases)) {
    it(name, async () => {
      const config = LoraConfig.fromPeftDict({
        ...spec.lora,
        init_lora_weights: 'eva',
        eva_config: spec.eva,
      });
      const peft = getPeftModel(await loadInitEvaModel(), config);
      const stateDict = await getEvaStateDict(peft, initEvaBatches(), {
        log: () => {},
        ...(spec.generic ? { prepareModelInputsFn: null, prepareLayerInputsFn: null } : {}),
      });
      expect([...stateDict].map(([key, t]) => [key, t.shape[0]])).toEqual(spec.ranks);

      const errors: Record<string, number> = {};
      const groups = groupsOf(spec.ranks.map(([key]) => key));
      for (const [key, components] of stateDict) {
        const expected = references.get(`${name}.${key}`)!;
        let actual: Tensor = components;
        if (spec.eva.whiten && (groups.get(key) ?? 1) > 1) {
          // PEFT whitens the shared rows in place once per layer of an equal-input group (here 2:
          // q_proj and k_proj), so its rows are v/σ where ours are v/√σ; v/σ = ours · ‖ours‖.
          actual = components.mul(components.square().sum(1, true).sqrt());
        }
        errors[key] = maxErrorUpToRowSign(actual, expected);
        expect(errors[key], key).toBeLessThan(COMPONENT_TOLERANCE);
      }

      console.info(
        `${name}: max |error| ${Math.max(...Object.values(errors)).toExponential(2)} (tolerance ${COMPONENT_TOLERANCE})`,
      );
      const result = loadEvaStateDict(peft, stateDict);
      const written = parsePythonJson(adapterConfigJson(peft, 'default')) as Record<string, unknown>;
      expect(written.rank_pattern).toEqual(spec.rank_pattern);
      // alpha_pattern values keep PEFT's int/float distinction (2.0 scaled, 5 from the user's pattern).
      expect(written.alpha_pattern).toEqual(spec.alpha_pattern);
      expect([...(written.target_modules as string[])].sort()).toEqual(spec.target_modules);
      const zero = spec.ranks.filter(([, rank]) => rank === 0).map(([key]) => key.slice(PREFIX.length));
      expect(result.removed).toEqual(zero);
      for (const removed of zero) expect(peft.model.getSubmodule(removed)).not.toBeInstanceOf(LoraLayer);
    });
  }
});

/** How many target layers share each layer's representative (PEFT's equal-input groups). */
function groupsOf(keys: readonly string[]): Map<string, number> {
  // Groups in these cases: q/k/v of one decoder layer, and gate/up.
  const groupKey = (key: string) =>
    key.replace(/self_attn\.(q|k|v)_proj$/, 'self_attn.qkv').replace(/mlp\.(gate|up)_proj$/, 'mlp.gate_up');
  const sizes = new Map<string, number>();
  for (const key of keys) sizes.set(groupKey(key), (sizes.get(groupKey(key)) ?? 0) + 1);
  return new Map(keys.map((key) => [key, sizes.get(groupKey(key))!]));
}
