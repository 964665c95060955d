import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONFIG_NAME, KEY_PREFIX, readAdapterConfig, WEIGHTS_NAME } from '@lorakit/lora';
import { Generator, readTensorFile, type Tensor } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineAdapterFiles } from '../src/index.js';
import { ErrorReport } from './compare.js';
import {
  expected,
  fixtureModules,
  fixturePeft,
  type MergeSpec,
  mergeCase,
  mergesDir,
  optionsOf,
} from './fixture.js';
import {
  checkDeterministic,
  type DareCounts,
  expectKeepRate,
  factorWeights,
  type MergedModule,
  recoverDareMasks,
} from './merge-checks.js';

const report = new ErrorReport();
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'lorakit-merge-files-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  report.print('merges conformance through combineAdapterFiles (max |error| per tag and tensor)');
});

const adapterDir = (name: string) => join(mergesDir, 'adapter', name);

/** Merges the fixture's adapter folders into scratch/<out> and reads the result back. */
async function mergeFiles(spec: MergeSpec, out: string, options = optionsOf(spec)) {
  const outDir = join(scratch, out);
  const result = await combineAdapterFiles({
    adapters: spec.adapters.map(adapterDir),
    weights: spec.weights,
    type: spec.combination_type,
    options,
    outDir,
  });
  const tensors = readTensorFile(join(outDir, WEIGHTS_NAME));
  const config = readAdapterConfig(outDir);
  const module = (path: string): MergedModule => {
    const a = tensors.get(`${KEY_PREFIX}${path}.lora_A.weight`)!;
    const b = tensors.get(`${KEY_PREFIX}${path}.lora_B.weight`)!;
    return { a, b, delta: b.matmul(a).mul(config.scalingFor(config.r, config.loraAlpha)) };
  };
  return { result, tensors, config, module, outDir };
}

const tags = Object.entries(mergeCase.merges);

describe('merges fixture through combineAdapterFiles (no base model)', () => {
  it.each(tags.filter(([, spec]) => spec.deterministic))('%s', async (tag, spec) => {
    const merged = await mergeFiles(spec, tag);
    expect(merged.config.r).toBe(spec.r);
    expect(merged.config.loraAlpha).toBe(spec.lora_alpha);
    expect(merged.result.modules.length).toBe(fixtureModules(tag).length);
    let unclamped: ((module: string) => MergedModule) | undefined;
    if (spec.kwargs.svd_clamp !== undefined) {
      const { svdClamp: _, ...rest } = optionsOf(spec);
      unclamped = (await mergeFiles(spec, `${tag}_unclamped`, rest)).module;
    }
    checkDeterministic(tag, spec, merged.module, report, unclamped);
  });

  it.each(tags.filter(([, spec]) => !spec.deterministic))(
    '%s: masks keep ≈ density, survivors rescaled by 1/density',
    async (tag, spec) => {
      const type = spec.combination_type as 'dare_linear' | 'dare_ties';
      const density = spec.kwargs.density as number;
      const merged = await mergeFiles(spec, tag, { ...optionsOf(spec), generator: new Generator(62) });
      expect(merged.config.r).toBe(spec.r);
      const sources = spec.adapters.map((name) => readTensorFile(join(adapterDir(name), WEIGHTS_NAME)));
      const scalings = spec.adapters.map((name) => {
        const config = readAdapterConfig(adapterDir(name));
        return config.scalingFor(config.r, config.loraAlpha);
      });
      const weights = factorWeights(spec.weights, scalings);
      const counts: DareCounts = { kept: 0, total: 0, zeros: 0, entries: 0 };
      for (const module of fixtureModules(tag)) {
        const key = (factor: 'A' | 'B') => `${KEY_PREFIX}${module}.lora_${factor}.weight`;
        const ours = merged.module(module);
        const of = (factor: 'A' | 'B'): Tensor[] => sources.map((s) => s.get(key(factor))!);
        recoverDareMasks(type, ours.a, of('A'), weights.a, density, counts, `${tag} ${module} lora_A`);
        recoverDareMasks(type, ours.b, of('B'), weights.b, density, counts, `${tag} ${module} lora_B`);
      }
      expectKeepRate(type, counts, density, tag);
    },
  );

  it('writes the adapter_config.json that addWeightedAdapter + saveAdapter write', async () => {
    const { saveAdapter } = await import('@lorakit/lora');
    const peft = await fixturePeft();
    for (const tag of ['linear', 'cat', 'svd_rank3_clamp']) {
      const spec = mergeCase.merges[tag]!;
      peft.addWeightedAdapter(
        spec.adapters,
        spec.weights,
        `m_${tag}`,
        spec.combination_type,
        optionsOf(spec),
      );
      const [dir] = await saveAdapter(peft, join(scratch, 'saved'), { selectedAdapters: [`m_${tag}`] });
      const files = await mergeFiles(spec, `${tag}_config`);
      expect(readFileSync(join(files.outDir, CONFIG_NAME), 'utf8')).toBe(
        readFileSync(join(dir!, CONFIG_NAME), 'utf8'),
      );
      // And the same tensors, bit for bit (same code on the same inputs).
      const saved = readTensorFile(join(dir!, WEIGHTS_NAME));
      expect([...files.tensors.keys()].sort()).toEqual([...saved.keys()].sort());
      for (const [key, value] of saved)
        expect(files.tensors.get(key)!.toArray(), key).toEqual(value.toArray());
    }
  });
});

void expected;
