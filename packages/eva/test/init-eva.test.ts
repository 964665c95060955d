import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adapterConfigJson, getPeftModel, type LoraLinear } from '@lorakit/lora';
import type { Tensor } from '@lorakit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { getEvaStateDict, initializeLoraEvaWeights } from '../src/index.js';
import {
  initEvaBatches as batches,
  initEvaConfig as config,
  initEvaDir as dir,
  initEvaIo as io,
  loadInitEvaModel,
  initEvaSpec as spec,
} from './fixture.js';
import { maxErrorUpToRowSign } from './helpers.js';

// PEFT 0.21's init_eva case: a tiny Llama (hidden 32, intermediate 64, 2 layers), r = 4, α = 8 on
// q/v/o/up/down, rho 2, tau 0.99, six calibration batches of 4 × 16 tokens with padding and -100 labels.
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

describe('init_eva conformance (PEFT 0.21)', () => {
  let stateDict: Map<string, Tensor>;
  const errors: Record<string, number> = {};

  beforeAll(async () => {
    const peft = getPeftModel(await loadInitEvaModel(), config());
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
    const peft = getPeftModel(await loadInitEvaModel(), config());
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
