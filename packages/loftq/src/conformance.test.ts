import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getPeftModel, type LoraLayer, readAdapterConfig } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { extraFixturesDir, peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { afterAll, describe, expect, it } from 'vitest';
import { maxError, maxErrorUpToSign } from '../test/helpers.js';
import './index.js';

interface Row {
  case: string;
  tensor: string;
  error: number;
  bound: number;
}
const report: Row[] = [];

afterAll(() => {
  const lines = [...new Set(report.map((r) => r.case))].map((name) => {
    const rows = report.filter((r) => r.case === name);
    const parts = [...new Set(rows.map((r) => r.tensor))].map((kind) => {
      const worst = Math.max(...rows.filter((r) => r.tensor === kind).map((r) => r.error));
      return `${kind} ${worst.toExponential(2)}`;
    });
    return `${name} (atol ${rows[0]!.bound}): ${parts.join(', ')}`;
  });
  console.log(`LoftQ conformance, max |error| per checked tensor kind:\n  ${lines.join('\n  ')}`);
});

function check(name: string, kind: string, error: number, bound: number): void {
  report.push({ case: name, tensor: kind, error, bound });
  expect(error, `${name}: ${kind} max error ${error} > ${bound}`).toBeLessThanOrEqual(bound);
}

/**
 * An `init` case for LoftQ: load `base/` with loadModel, inject the adapter config (init_lora_weights =
 * "loftq"), compare base_after and delta within the case's atol and the factors up to per-component sign.
 * LoftQ's base_after + delta only approximates the original weight, so that is not checked here.
 */
async function runCase(dir: string, name: string): Promise<void> {
  const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
  const atol: number = spec.atol;
  const io = readTensorFile(join(dir, 'io.safetensors'));
  const config = readAdapterConfig(join(dir, 'adapter'));
  expect(config.initLoraWeights).toBe('loftq');
  const model = (await loadModel(join(dir, 'base'))).eval();
  const peft = getPeftModel(model, config.toOptions());
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
    check(name, 'base_after', maxError(layer.baseWeight(), io.get(`${module}.base_after`)!), atol);
    check(name, 'delta', maxError(layer.deltaWeight('default'), io.get(`${module}.delta`)!), atol);
    check(name, 'lora_A (up to sign)', maxErrorUpToSign(a, io.get(`${module}.lora_A`)!, 0), atol);
    check(name, 'lora_B (up to sign)', maxErrorUpToSign(b, io.get(`${module}.lora_B`)!, 1), atol);
  }
  if (io.has('logits_after_init')) {
    const logits = (peft.call({ inputIds: io.get('input_ids') }) as { logits: Tensor }).logits;
    check(name, 'logits_after_init', maxError(logits, io.get('logits_after_init')!), atol);
  }
}

describe('PEFT golden case (bitsandbytes NF4 on CUDA)', () => {
  it('init_loftq_4bit_1iter', () =>
    runCase(join(peftFixturesDir(), 'init_loftq_4bit_1iter'), 'init_loftq_4bit_1iter'));
});

describe('lorakit extra cases (fixtures/peft-extra, generate_loftq.py: PEFT 0.21 loftq_init)', () => {
  for (const name of [
    'init_loftq_8bit_1iter',
    'init_loftq_4bit_3iter',
    'init_loftq_8bit_2iter',
    'init_loftq_4bit_5iter_r8',
  ]) {
    it(name, () => runCase(join(extraFixturesDir, name), name));
  }
});
