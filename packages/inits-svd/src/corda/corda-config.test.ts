import { LoraConfig } from '@lorakit/lora';
import { describe, expect, it } from 'vitest';
import { CORDA_DEFAULTS, cordaConfig, readCordaConfig } from './corda-config.js';

describe('CordaConfig', () => {
  it('builds PEFT’s corda_config dict (snake_case keys, PEFT’s order and defaults)', () => {
    expect(cordaConfig({ cordaMethod: 'kpm', covarianceFile: 'cov.safetensors' })).toEqual({
      cache_file: null,
      covariance_file: 'cov.safetensors',
      corda_method: 'kpm',
      verbose: false,
      use_float16_for_covariance: false,
      prune_temporary_fields: true,
    });
    expect(readCordaConfig(null)).toEqual(CORDA_DEFAULTS);
  });

  it('reads the dict PEFT writes in adapter_config.json', () => {
    const config = LoraConfig.fromPeftDict({
      init_lora_weights: 'corda',
      corda_config: {
        cache_file: null,
        corda_method: 'ipm',
        covariance_file: null,
        prune_temporary_fields: true,
        use_float16_for_covariance: false,
        verbose: false,
      },
    });
    expect(readCordaConfig(config.cordaConfig)).toEqual(CORDA_DEFAULTS);
  });

  it('rejects unknown keys and ill-typed values', () => {
    expect(() => readCordaConfig({ cordaMethod: 'kpm' })).toThrow(
      '[CordaConfig] unknown key "cordaMethod"; corda_config keys are cache_file, covariance_file, corda_method, verbose, use_float16_for_covariance, prune_temporary_fields (build it with cordaConfig({ … }) from camelCase options)',
    );
    expect(() => readCordaConfig({ verbose: 'yes' })).toThrow(
      '[CordaConfig] verbose must be true or false, received "yes"',
    );
    expect(() => readCordaConfig({ cache_file: '' })).toThrow(
      '[CordaConfig] cache_file must be a file path or null, received ""',
    );
    expect(() => cordaConfig({ cordaMethod: 'svd' as 'ipm' })).toThrow(
      `[CordaConfig] Invalid corda_method found: "svd", it should be 'ipm' or 'kpm'.`,
    );
  });
});
