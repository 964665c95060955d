import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { LoraConfigError, UnsupportedFeatureError } from '../errors.js';
import { LoraConfig } from './lora-config.js';
import { dumpPythonJson, PyFloat, parsePythonJson, pythonFloatRepr } from './python-json.js';

function configFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return configFiles(full);
    return name === 'adapter_config.json' ? [full] : [];
  });
}

const fixtures = peftFixturesDir();

describe('adapter_config.json', () => {
  const files = configFiles(fixtures);
  it('finds the fixture configs', () => expect(files.length).toBeGreaterThan(15));

  it.each(files.map((f) => [relative(fixtures, f), f]))('%s round-trips byte for byte', (_label, path) => {
    const text = readFileSync(path, 'utf8');
    const config = LoraConfig.fromPeftDict(parsePythonJson(text) as Record<string, unknown>);
    expect(dumpPythonJson(config.toPeftDict())).toBe(text);
  });

  it('writes PEFT 0.21 defaults with all 41 keys', () => {
    const dict = new LoraConfig({ targetModules: ['c_attn'] }).toPeftDict();
    expect(Object.keys(dict)).toHaveLength(41);
    const text = dumpPythonJson(dict);
    expect(text).toContain('"lora_dropout": 0.0,');
    expect(text).toContain('"lora_alpha": 8,');
    expect(text).toContain('"peft_version": "0.21.0",');
    expect(text).toContain('"loftq_config": {},');
    expect(text.endsWith('}')).toBe(true);
  });
});

describe('Python-compatible JSON', () => {
  it('formats floats like Python repr', () => {
    expect([0, 0.05, 1e-5, 16, 0.0001, 1e16, 123456789.125, -2.5e-7, 1 / 3].map(pythonFloatRepr)).toEqual([
      '0.0',
      '0.05',
      '1e-05',
      '16.0',
      '0.0001',
      '1e+16',
      '123456789.125',
      '-2.5e-07',
      '0.3333333333333333',
    ]);
  });

  it('sorts keys, indents by two, escapes non-ASCII, keeps float-ness through a round trip', () => {
    const text = dumpPythonJson({ b: [1, new PyFloat(2)], a: { é: 'ü\n' }, c: [], d: {} });
    expect(text).toBe(
      '{\n  "a": {\n    "\\u00e9": "\\u00fc\\n"\n  },\n  "b": [\n    1,\n    2.0\n  ],\n  "c": [],\n  "d": {}\n}',
    );
    expect(dumpPythonJson(parsePythonJson(text))).toBe(text);
  });
});

describe('LoraConfig validation (PEFT messages)', () => {
  it.each([
    [
      { taskType: 'CLASSIFY' as never },
      "[LoraConfig] Invalid task type: 'CLASSIFY'. Must be one of the following task types: SEQ_CLS, SEQ_2_SEQ_LM, CAUSAL_LM, TOKEN_CLS, QUESTION_ANS, FEATURE_EXTRACTION.",
    ],
    [
      { targetModules: '.*proj', layersToTransform: [0] },
      '[LoraConfig] `layers_to_transform` cannot be used when `target_modules` is a str.',
    ],
    [
      { targetModules: '.*proj', layersPattern: 'layers' },
      '[LoraConfig] `layers_pattern` cannot be used when `target_modules` is a str.',
    ],
    [
      { layersPattern: 'layers' },
      '[LoraConfig] When `layers_pattern` is specified, `layers_to_transform` must also be specified. ',
    ],
    [
      { initLoraWeights: 'loftq' },
      "[LoraConfig] `loftq_config` must be specified when `init_lora_weights` is 'loftq'.",
    ],
    [
      { loraBias: true, initLoraWeights: 'gaussian' },
      '[LoraConfig] The argument lora_bias=True is only supported with init_lora_weights=True or False, got init_lora_weights=gaussian instead.',
    ],
    [
      { loraBias: true, useDora: true },
      '[LoraConfig] The argument lora_bias=True is not supported for DoRA, please pass use_dora=False',
    ],
    [{ loraDropout: 1.5 }, '[LoraConfig] lora_dropout must be a number in [0, 1], received 1.5'],
  ])('%j', (options, message) => {
    expect(() => new LoraConfig(options)).toThrow(LoraConfigError);
    expect(() => new LoraConfig(options)).toThrow(message);
  });

  it('reads and writes megatron and other unimplemented fields but rejects them when set', () => {
    expect(() => new LoraConfig({ megatronConfig: { tp: 2 } })).toThrow(UnsupportedFeatureError);
    expect(() => new LoraConfig({ megatronConfig: { tp: 2 } })).toThrow(
      '[LoraConfig] lorakit does not support Megatron-LM parallel layers (megatron_config); megatron_config must be null',
    );
    expect(() => LoraConfig.fromPeftDict({ use_dora: false, kasa_config: { a: 1 } })).toThrow('KaSA');
  });

  it('keeps the warnings PEFT prints', () => {
    const config = new LoraConfig({ loftqConfig: { loftq_bits: 4 } });
    expect(config.loftqConfig).toEqual({});
    expect(config.warnings).toEqual([
      "`loftq_config` specified but will be ignored when `init_lora_weights` is not 'loftq'.",
    ]);
    const loaded = LoraConfig.fromPeftDict({ r: 4, surprise: 1, runtime_config: {} });
    expect(loaded.warnings[0]).toBe(
      'Unexpected keyword arguments ["surprise"] for class LoraConfig, these are ignored.',
    );
  });

  it('computes scaling with and without rsLoRA', () => {
    expect(new LoraConfig({ loraAlpha: 16 }).scalingFor(4, 16)).toBe(4);
    expect(new LoraConfig({ useRslora: true }).scalingFor(2, 16)).toBeCloseTo(11.313708, 6);
  });
});
