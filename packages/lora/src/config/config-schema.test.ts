import { describe, expect, it } from 'vitest';
import { LoraConfigError } from '../errors.js';
import { LoraConfig } from './lora-config.js';

const fromFile = (dict: Record<string, unknown>) => () => LoraConfig.fromPeftDict(dict);

describe('LoraConfig checks the type of every field (PEFT annotations), naming the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['lora_alpha: null', { lora_alpha: null }, 'lora_alpha must be a finite number, received null'],
    ['use_rslora: "false"', { use_rslora: 'false' }, 'use_rslora must be true or false, received "false"'],
    [
      'a null value in alpha_pattern',
      { alpha_pattern: { q_proj: null } },
      'alpha_pattern["q_proj"] is null; alpha_pattern must be an object of module pattern → finite number',
    ],
    [
      'target_modules: 5',
      { target_modules: 5 },
      'target_modules must be a list of module names, a regex string, or null, received 5',
    ],
    [
      'a number inside target_modules',
      { target_modules: ['q_proj', 7] },
      'target_modules[1] is 7; target_modules must be a list of module names, a regex string, or null',
    ],
    ['r: 1e9', { r: 1e9 }, 'r must be an integer no greater than 65536, received 1000000000'],
    ['r: 8.5', { r: 8.5 }, 'r must be an integer no greater than 65536, received 8.5'],
    ['r: "8"', { r: '8' }, 'r must be an integer no greater than 65536, received "8"'],
    [
      'a fractional rank in rank_pattern',
      { rank_pattern: { 'layers.0.q_proj': 4.5 } },
      'rank_pattern["layers.0.q_proj"] is 4.5; rank_pattern must be an object of module pattern → integer rank (no greater than 65536)',
    ],
    [
      'lora_dropout: "0.1"',
      { lora_dropout: '0.1' },
      'lora_dropout must be a number in [0, 1], received "0.1"',
    ],
    ['use_dora: 1', { use_dora: 1 }, 'use_dora must be true or false, received 1'],
    ['fan_in_fan_out: null', { fan_in_fan_out: null }, 'fan_in_fan_out must be true or false, received null'],
    [
      'init_lora_weights: null',
      { init_lora_weights: null },
      'init_lora_weights must be true, false or the name of an init method, received null',
    ],
    [
      'layers_to_transform: "0"',
      { layers_to_transform: '0' },
      'layers_to_transform must be an integer, a list of integers, or null, received "0"',
    ],
    [
      'layer_replication with a single number',
      { layer_replication: [[0, 2], [1]] },
      'layer_replication[1] is [1]; layer_replication must be a list of [start, end] integer pairs, or null',
    ],
    ['bias: false', { bias: false }, 'bias must be a string ("none", "all" or "lora_only"), received false'],
    [
      'modules_to_save: "score"',
      { modules_to_save: 'score' },
      'modules_to_save must be a list of module names or null, received "score"',
    ],
    ['loftq_config: []', { loftq_config: [] }, 'loftq_config must be an object, received []'],
  ];
  it.each(cases)('%s', (_label, dict, message) => {
    expect(fromFile(dict)).toThrow(LoraConfigError);
    expect(fromFile(dict)).toThrow(`[LoraConfig] ${message}`);
  });

  it('cuts a huge value in the message', () => {
    expect(fromFile({ revision: 'x'.repeat(18000) })).not.toThrow();
    expect(fromFile({ peft_version: ['x'.repeat(18000)] })).toThrow(
      `[LoraConfig] peft_version must be a string, received ["${'x'.repeat(78)}… (18004 characters)`,
    );
  });

  it('refuses options that are not an object', () => {
    expect(() => new LoraConfig([] as never)).toThrow(
      '[LoraConfig] the configuration must be an object of fields, received []',
    );
  });

  it('accepts the values PEFT writes, including nulls where PEFT allows them', () => {
    const config = LoraConfig.fromPeftDict({
      r: 16,
      lora_alpha: 32.0,
      target_modules: 'all-linear',
      layers_to_transform: null,
      megatron_core: null,
      rank_pattern: {},
      alpha_pattern: { q_proj: 7.5 },
      eva_config: null,
      use_rslora: true,
    });
    expect([config.r, config.loraAlpha, config.useRslora, config.megatronCore]).toEqual([
      16,
      32,
      true,
      'megatron.core',
    ]);
    expect(config.alphaPattern).toEqual({ q_proj: 7.5 });
  });
});
