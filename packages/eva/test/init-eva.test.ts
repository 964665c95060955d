import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfigJson, getPeftModel, LoraConfig, type LoraLinear } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaConfig, getEvaStateDict, initializeLoraEvaWeights } from '../src/index.js';

// PEFT 0.21's init_eva case: a tiny Llama (hidden 32, intermediate 64, 2 layers), r = 4, α = 8 on
// q/v/o/up/down, rho 2, tau 0.99, six calibration batches of 4 × 16 tokens with padding and -100 labels.
const dir = join(peftFixturesDir(), 'init_eva');
const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as {
  ranks: Record<string, number>;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  n_batches: number;
};
const io = readTensorFile(join(dir, 'io.safetensors'));
const PREFIX = 'base_model.model.';

/**
 * Tolerance for components (unit rows). Our incremental PCA reproduces PEFT's arithmetic — the same
 * random sketch (PyTorch's MT19937 normal sampler, reseeded with 42) and PEFT's float32/float64 steps —
 * but with different matrix kernels (lorakit's JS backend vs. LAPACK/BLAS), so each step differs by
 * float32 rounding of the layer inputs (~1e-7 relative) amplified by 1/gap of the singular values over
 * six updates: we measure ≤ 2.3e-6 (up_proj, the smallest gaps). 2e-5 leaves ~10× room; a wrong sketch, mask or update formula
 * gives errors of order 1e-2 … 1.
 */
const COMPONENT_TOLERANCE = 2e-5;

function batches(): { inputIds: Tensor; attentionMask: Tensor; labels: Tensor }[] {
  return Array.from({ length: spec.n_batches }, (_, i) => ({
    inputIds: io.get(`batch${i}.input_ids`)!,
    attentionMask: io.get(`batch${i}.attention_mask`)!,
    labels: io.get(`batch${i}.labels`)!,
  }));
}

function config(): LoraConfig {
  return new LoraConfig({
    r: 4,
    loraAlpha: 8,
    targetModules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
    initLoraWeights: 'eva',
    evaConfig: evaConfig({ rho: 2, tau: 0.99 }),
  });
}

/** max |a − e| after flipping each row of `actual` to agree in sign with `expected`. */
function maxErrorUpToRowSign(actual: Tensor, expected: Tensor): number {
  expect(actual.shape).toEqual(expected.shape);
  const [rows, columns] = expected.shape as [number, number];
  const a = actual.double().toArray() as Float64Array;
  const e = expected.double().toArray() as Float64Array;
  let max = 0;
  for (let row = 0; row < rows; row++) {
    let dot = 0;
    for (let c = 0; c < columns; c++) dot += a[row * columns + c]! * e[row * columns + c]!;
    const sign = dot < 0 ? -1 : 1;
    for (let c = 0; c < columns; c++)
      max = Math.max(max, Math.abs(sign * a[row * columns + c]! - e[row * columns + c]!));
  }
  return max;
}

describe('init_eva conformance (PEFT 0.21)', () => {
  let stateDict: Map<string, Tensor>;
  const errors: Record<string, number> = {};

  beforeAll(async () => {
    const peft = getPeftModel(await loadModel(join(dir, 'base')), config());
    stateDict = await getEvaStateDict(peft, batches(), { log: () => {} });
  });

  it('gives every layer PEFT’s rank, in PEFT’s order', () => {
    expect([...stateDict].map(([name, t]) => [name, t.shape[0]])).toEqual(Object.entries(spec.ranks));
  });

  it('computes PEFT’s components (rows up to sign)', () => {
    for (const [name, components] of stateDict) {
      expect(components.dtype).toBe('float64');
      errors[name] = maxErrorUpToRowSign(components, io.get(`eva.${name}`)!);
    }
    console.info('init_eva components, max |error| per layer:', errors, `tolerance ${COMPONENT_TOLERANCE}`);
    for (const error of Object.values(errors)) expect(error).toBeLessThan(COMPONENT_TOLERANCE);
  });

  it('initializes the adapter: ranks, rank_pattern, alpha_pattern, lora_A = components, B = 0, adapter_config.json', async () => {
    const peft = getPeftModel(await loadModel(join(dir, 'base')), config());
    const result = await initializeLoraEvaWeights(peft, batches(), { log: () => {} });
    const adapter = peft.peftConfig.get('default')!;
    expect(adapter.rankPattern).toEqual(spec.rank_pattern);
    expect(adapter.alphaPattern).toEqual(spec.alpha_pattern);
    expect(result.removed).toEqual([]);
    expect(result.reinitialized).toEqual([]);
    const layers = new Map(peft.loraLayers());
    const loraErrors: Record<string, number> = {};
    for (const [name, rank] of Object.entries(spec.ranks)) {
      const short = name.slice(PREFIX.length);
      const layer = layers.get(short) as LoraLinear;
      expect(layer.r.get('default')).toBe(rank);
      expect(result.ranks.get(short)).toBe(rank);
      const { a, b } = layer.factorParameters('default');
      expect(a.requiresGrad && b.requiresGrad).toBe(true);
      loraErrors[short] = maxErrorUpToRowSign(a, io.get(`${short}.lora_A`)!);
      expect(loraErrors[short]).toBeLessThan(COMPONENT_TOLERANCE);
      expect(b.shape).toEqual(io.get(`${short}.lora_B`)!.shape);
      expect(b.abs().max().item()).toBe(0);
      // scaling α/r is unchanged by the rank redistribution (adjust_scaling_factors)
      expect(layer.scaling.get('default')).toBe(2);
    }
    console.info('init_eva lora_A, max |error| per layer:', loraErrors, `tolerance ${COMPONENT_TOLERANCE}`);
    // The written config is byte-identical to PEFT's (alpha_pattern values print as 12.0 / 4.0).
    const expectedConfig = readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8');
    expect(adapterConfigJson(peft, 'default')).toBe(expectedConfig);
  });
});
