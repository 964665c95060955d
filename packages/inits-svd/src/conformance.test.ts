import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterTensors, getPeftModel, type LoraLayer, loadAdapter, readAdapterConfig } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import type { AnyModule } from '@lorakit/nn';
import { Generator, svd, type Tensor } from '@lorakit/tensor';
import { extraFixturesDir, peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { afterAll, describe, expect, it } from 'vitest';
import { maxError, maxErrorUpToSign, readAll } from '../test/helpers.js';
import { convertToLora } from './conversion/convert-to-lora.js';
import { saveConvertedAdapter } from './conversion/save-converted-adapter.js';
import { preprocessCorda } from './corda/preprocess-corda.js';
import './index.js';
import { withInitGenerator } from './init-generator.js';

interface Row {
  case: string;
  tensor: string;
  error: number;
  bound: number;
}
const report: Row[] = [];

afterAll(() => {
  const cases = [...new Set(report.map((r) => r.case))];
  const lines = cases.map((name) => {
    const rows = report.filter((r) => r.case === name);
    const kinds = [...new Set(rows.map((r) => r.tensor))];
    const parts = kinds.map((kind) => {
      const matching = rows.filter((r) => r.tensor === kind);
      const worst = Math.max(...matching.map((r) => r.error));
      return `${kind} ${worst.toExponential(2)} ≤ ${matching[0]!.bound}`;
    });
    return `${name}: ${parts.join(', ')}`;
  });
  console.log(`PEFT init conformance, max |error| per checked tensor kind:\n  ${lines.join('\n  ')}`);
});

function check(name: string, tensorKind: string, error: number, bound: number): void {
  report.push({ case: name, tensor: tensorKind, error, bound });
  expect(error, `${name}: ${tensorKind} max error ${error} > ${bound}`).toBeLessThanOrEqual(bound);
}

/** Calibration for CorDA cases: every row of calibration_input_ids as its own forward call. */
async function prepareCorda(dir: string, model: AnyModule, config: ReturnType<typeof readAdapterConfig>) {
  const ids = readAll(join(dir, 'calibration.safetensors')).get('calibration_input_ids')!;
  await preprocessCorda(model, config, () => {
    for (let i = 0; i < ids.shape[0]!; i++) model.call({ inputIds: ids.narrow(0, i, 1) });
  });
}

const rankOf = (t: Tensor) => {
  const s = svd(t.double()).s.toArray() as Float64Array;
  return s.filter((v) => v > 1e-5 * s[0]!).length;
};

async function runCase(dir: string, name: string): Promise<void> {
  const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  const atol: number = spec.atol;
  const io = readAll(join(dir, 'io.safetensors'));
  const config = readAdapterConfig(join(dir, 'adapter'));
  const model = (await loadModel(join(dir, 'base'))).eval();
  const original = new Map(model.namedParameters().map(([n, p]) => [n, p.clone()]));
  if (existsSync(join(dir, 'calibration.safetensors'))) await prepareCorda(dir, model, config);
  // Randomized inits draw from an explicit generator; the result must not depend on which one.
  const peft = withInitGenerator(new Generator(2024), () => getPeftModel(model, config.toOptions()));
  peft.eval();
  const layers = new Map(peft.loraLayers());
  const modules = [...io.keys()]
    .filter((k) => k.endsWith('.lora_A'))
    .map((k) => k.slice(0, -'.lora_A'.length));
  expect(modules.length).toBeGreaterThan(0);
  for (const module of modules) {
    const layer = layers.get(module) as LoraLayer;
    expect(layer, `${module} is targeted`).toBeDefined();
    const { a, b } = layer.factorParameters('default');
    const delta = layer.deltaWeight('default');
    const baseAfter = layer.baseWeight();
    const weight = original.get(`${module}.weight`)!;
    check(name, 'base_after', maxError(baseAfter, io.get(`${module}.base_after`)!), atol);
    check(name, 'base_after + delta = original', maxError(baseAfter.add(delta), weight), atol);
    if (spec.random) {
      check(name, 'delta (= 0)', delta.abs().max().item(), atol);
      for (const [kind, ours, theirs] of [
        ['lora_A', a, io.get(`${module}.lora_A`)!],
        ['lora_B', b, io.get(`${module}.lora_B`)!],
      ] as const) {
        check(name, `${kind} |std/std_PEFT − 1|`, Math.abs(ours.std().item() / theirs.std().item() - 1), 0.3);
        expect(rankOf(ours)).toBe(rankOf(theirs));
      }
      continue;
    }
    check(name, 'delta', maxError(delta, io.get(`${module}.delta`)!), atol);
    check(name, 'lora_A (up to sign)', maxErrorUpToSign(a, io.get(`${module}.lora_A`)!, 0), atol);
    check(name, 'lora_B (up to sign)', maxErrorUpToSign(b, io.get(`${module}.lora_B`)!, 1), atol);
  }
  if (io.has('logits_after_init')) {
    const logits = (peft.call({ inputIds: io.get('input_ids') }) as { logits: Tensor }).logits;
    check(name, 'logits_after_init', maxError(logits, io.get('logits_after_init')!), 1e-4);
  }
}

describe('PEFT fixtures (init kind)', () => {
  for (const name of ['init_pissa', 'init_olora', 'init_corda_ipm']) {
    it(name, () => runCase(join(peftFixturesDir(), name), name));
  }
});

describe('PEFT fixture pissa_to_lora_conversion (conversion kind)', () => {
  it('pissa_to_lora_conversion', async () => {
    const name = 'pissa_to_lora_conversion';
    const dir = join(peftFixturesDir(), name);
    const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const io = readAll(join(dir, 'io.safetensors'));
    const trained = loadAdapter(await loadModel(join(dir, 'base')), join(dir, 'pissa_trained'));
    const converted = convertToLora(
      {
        config: readAdapterConfig(join(dir, 'pissa_init')),
        tensors: readAll(join(dir, 'pissa_init', 'adapter_model.safetensors')),
      },
      { config: trained.peftConfig.get('default')!, tensors: new Map(adapterTensors(trained, 'default')) },
    );
    const expected = readAll(join(dir, 'adapter', 'adapter_model.safetensors'));
    const scaling = converted.config.scalingFor(converted.config.r, converted.config.loraAlpha);
    for (const key of [...expected.keys()].filter((k) => k.endsWith('.lora_A.weight'))) {
      const bKey = key.replace('.lora_A.', '.lora_B.');
      const delta = converted.tensors.get(bKey)!.matmul(converted.tensors.get(key)!).mul(scaling);
      const expectedDelta = expected.get(bKey)!.matmul(expected.get(key)!).mul(scaling);
      check(name, 'delta', maxError(delta, expectedDelta), spec.atol);
    }
    const dirOut = mkdtempSync(join(tmpdir(), 'conversion-'));
    await saveConvertedAdapter(trained, dirOut, join(dir, 'pissa_init'));
    const reloaded = loadAdapter(await loadModel(join(dir, 'base')), dirOut);
    const logits = (reloaded.call({ inputIds: io.get('input_ids') }) as { logits: Tensor }).logits;
    check(
      name,
      'logits_trained (original base + converted)',
      maxError(logits, io.get('logits_trained')!),
      spec.atol,
    );
  });
});

describe('lorakit extra cases (fixtures/peft-extra, made by generate.py with PEFT 0.21)', () => {
  for (const name of ['init_pissa_niter_4', 'init_corda_kpm', 'init_orthogonal']) {
    it(name, () => runCase(join(extraFixturesDir, name), name));
  }
});
