import { dumpPythonJson, LoraConfig, LoraConfigError } from '@lorakit/lora';
import { describe, expect, it } from 'vitest';
import { EVA_DEFAULTS, evaConfig, readEvaConfig } from './eva-config.js';

describe('EvaConfig', () => {
  it('has PEFT’s defaults and writes PEFT’s eva_config JSON (rho and tau as floats)', () => {
    expect(readEvaConfig(null)).toEqual(EVA_DEFAULTS);
    expect(readEvaConfig(evaConfig())).toEqual({
      rho: 2,
      tau: 0.99,
      useLabelMask: true,
      labelMaskValue: -100,
      whiten: false,
      adjustScalingFactors: true,
    });
    expect(dumpPythonJson(evaConfig({ rho: 1, whiten: true }))).toBe(
      '{\n  "adjust_scaling_factors": true,\n  "label_mask_value": -100,\n  "rho": 1.0,\n  "tau": 0.99,\n  "use_label_mask": true,\n  "whiten": true\n}',
    );
  });

  it('validates with PEFT’s rules: rho >= 1, tau in [0, 1]', () => {
    expect(() => evaConfig({ rho: 0.99 })).toThrow(
      new LoraConfigError('[EvaConfig] `rho` must be >= 1.0, received 0.99'),
    );
    expect(() => evaConfig({ tau: -0.1 })).toThrow(
      '[EvaConfig] `tau` must be between 0.0 and 1.0, received -0.1',
    );
    expect(() => evaConfig({ tau: 1.01 })).toThrow(
      '[EvaConfig] `tau` must be between 0.0 and 1.0, received 1.01',
    );
    expect(readEvaConfig({ rho: 1, tau: 0 })).toMatchObject({ rho: 1, tau: 0 });
    expect(readEvaConfig({ tau: 1 })).toMatchObject({ tau: 1 });
  });

  it('names unknown keys and wrong types', () => {
    expect(() => readEvaConfig({ useLabelMask: false })).toThrow(
      '[EvaConfig] unknown key "useLabelMask"; eva_config keys are rho, tau, use_label_mask, label_mask_value, whiten, adjust_scaling_factors (build it with evaConfig({ … }) from camelCase options)',
    );
    expect(() => readEvaConfig({ whiten: 'yes' })).toThrow(
      '[EvaConfig] whiten must be true or false, received "yes"',
    );
    expect(() => readEvaConfig({ rho: '2' })).toThrow('[EvaConfig] `rho` must be a number, received "2"');
    expect(() => readEvaConfig({ label_mask_value: 0.5 })).toThrow(
      '[EvaConfig] label_mask_value must be an integer, received 0.5',
    );
  });

  it('reads an eva_config loaded from adapter_config.json', () => {
    const config = LoraConfig.fromPeftDict({
      r: 4,
      init_lora_weights: 'eva',
      eva_config: {
        rho: 3,
        tau: 0.9,
        use_label_mask: false,
        label_mask_value: -1,
        whiten: true,
        adjust_scaling_factors: false,
      },
    });
    expect(readEvaConfig(config.evaConfig)).toEqual({
      rho: 3,
      tau: 0.9,
      useLabelMask: false,
      labelMaskValue: -1,
      whiten: true,
      adjustScalingFactors: false,
    });
  });
});
