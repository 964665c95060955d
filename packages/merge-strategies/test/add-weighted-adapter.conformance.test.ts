import type { LoraLayer, PeftModel } from '@lorakit/lora';
import { Generator } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../src/index.js';
import { ErrorReport } from './compare.js';
import { fixtureModules, fixturePeft, mergeCase, optionsOf } from './fixture.js';
import {
  checkDeterministic,
  type DareCounts,
  expectKeepRate,
  factorWeights,
  type MergedModule,
  recoverDareMasks,
} from './merge-checks.js';

const report = new ErrorReport();
let peft: PeftModel;
let layers: Map<string, LoraLayer>;

beforeAll(async () => {
  peft = await fixturePeft();
  layers = new Map(peft.loraLayers());
});
afterAll(() =>
  report.print('merges conformance through addWeightedAdapter (max |error| per tag and tensor)'),
);

function mergedModule(name: string, module: string): MergedModule {
  const layer = layers.get(module)!;
  const { a, b } = layer.factorParameters(name);
  return { a, b, delta: layer.deltaWeight(name) };
}

const tags = Object.entries(mergeCase.merges);

describe('merges fixture through PeftModel.addWeightedAdapter', () => {
  it.each(tags.filter(([, spec]) => spec.deterministic))('%s', (tag, spec) => {
    const name = `m_${tag}`;
    const config = peft.addWeightedAdapter(
      spec.adapters,
      spec.weights,
      name,
      spec.combination_type,
      optionsOf(spec),
    );
    expect(config?.r).toBe(spec.r);
    expect(config?.loraAlpha).toBe(spec.lora_alpha);
    let unclamped: ((module: string) => MergedModule) | undefined;
    if (spec.kwargs.svd_clamp !== undefined) {
      const raw = `${name}_unclamped`;
      const { svdClamp: _, ...rest } = optionsOf(spec);
      peft.addWeightedAdapter(spec.adapters, spec.weights, raw, spec.combination_type, rest);
      unclamped = (module) => mergedModule(raw, module);
    }
    checkDeterministic(tag, spec, (module) => mergedModule(name, module), report, unclamped);
  });

  it.each(tags.filter(([, spec]) => !spec.deterministic))(
    '%s: masks keep ≈ density, survivors rescaled by 1/density',
    (tag, spec) => {
      const type = spec.combination_type as 'dare_linear' | 'dare_ties';
      const density = spec.kwargs.density as number;
      const name = `m_${tag}`;
      const config = peft.addWeightedAdapter(spec.adapters, spec.weights, name, type, {
        ...optionsOf(spec),
        generator: new Generator(62),
      });
      expect(config?.r).toBe(spec.r);
      expect(config?.loraAlpha).toBe(spec.lora_alpha);
      const counts: DareCounts = { kept: 0, total: 0, zeros: 0, entries: 0 };
      for (const module of fixtureModules(tag)) {
        const layer = layers.get(module)!;
        const sources = spec.adapters.map((adapter) => layer.factorParameters(adapter));
        const scalings = spec.adapters.map((adapter) => layer.scaling.get(adapter)!);
        const weights = factorWeights(spec.weights, scalings);
        const ours = layer.factorParameters(name);
        recoverDareMasks(
          type,
          ours.a,
          sources.map((s) => s.a),
          weights.a,
          density,
          counts,
          `${tag} ${module} lora_A`,
        );
        recoverDareMasks(
          type,
          ours.b,
          sources.map((s) => s.b),
          weights.b,
          density,
          counts,
          `${tag} ${module} lora_B`,
        );
      }
      expectKeepRate(type, counts, density, tag);
      report.add(tag, 'zeros', counts.zeros / counts.entries, `(1 − density)² = ${(1 - density) ** 2} ± 5σ`);
    },
  );

  it.each(tags.filter(([, spec]) => !spec.deterministic))(
    '%s: PEFT’s own tensors pass the same check',
    (tag, spec) => {
      const type = spec.combination_type as 'dare_linear' | 'dare_ties';
      const density = spec.kwargs.density as number;
      const counts: DareCounts = { kept: 0, total: 0, zeros: 0, entries: 0 };
      for (const module of fixtureModules(tag)) {
        const layer = layers.get(module)!;
        const sources = spec.adapters.map((adapter) => layer.factorParameters(adapter));
        const scalings = spec.adapters.map((adapter) => layer.scaling.get(adapter)!);
        const weights = factorWeights(spec.weights, scalings);
        const fixtureA = expectedTensor(`${tag}.${module}.lora_A`);
        const fixtureB = expectedTensor(`${tag}.${module}.lora_B`);
        recoverDareMasks(
          type,
          fixtureA,
          sources.map((s) => s.a),
          weights.a,
          density,
          counts,
          `PEFT ${tag} ${module} lora_A`,
        );
        recoverDareMasks(
          type,
          fixtureB,
          sources.map((s) => s.b),
          weights.b,
          density,
          counts,
          `PEFT ${tag} ${module} lora_B`,
        );
      }
      expectKeepRate(type, counts, density, `PEFT ${tag}`);
    },
  );
});

import { expected } from './fixture.js';

function expectedTensor(key: string) {
  return expected.get(key)!;
}
