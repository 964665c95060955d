import { describe, expect, it } from 'vitest';
import { LoraConfig } from '../config/lora-config.js';
import { checkTargetModule, minimizeTargetModules, resolvePattern } from './match.js';

const q0 = 'model.layers.0.self_attn.q_proj';
const q1 = 'model.layers.1.self_attn.q_proj';

describe('checkTargetModule', () => {
  it('lists match exact names or dotted suffixes', () => {
    const config = new LoraConfig({ targetModules: ['q_proj', 'model.layers.1.mlp.up_proj'] });
    expect(checkTargetModule(config, q0)).toBe('match');
    expect(checkTargetModule(config, 'model.layers.0.self_attn.qq_proj')).toBe('miss');
    expect(checkTargetModule(config, 'model.layers.1.mlp.up_proj')).toBe('match');
    expect(checkTargetModule(new LoraConfig({ targetModules: ['proj'] }), q0)).toBe('miss');
  });

  it('a string is a Python regex matched in full', () => {
    const config = new LoraConfig({ targetModules: '.*\\.(q|v)_proj' });
    expect(checkTargetModule(config, q0)).toBe('match');
    expect(checkTargetModule(config, 'model.layers.0.self_attn.k_proj')).toBe('miss');
    expect(checkTargetModule(new LoraConfig({ targetModules: '(?P<x>q)_proj' }), 'q_proj')).toBe('match');
  });

  it('exclude_modules and modules_to_save exclude (with descendants)', () => {
    expect(checkTargetModule(new LoraConfig({ targetModules: ['q_proj'], excludeModules: [q1] }), q1)).toBe(
      'excluded',
    );
    expect(
      checkTargetModule(
        new LoraConfig({ targetModules: ['dense'], modulesToSave: ['classifier'] }),
        'classifier.dense',
      ),
    ).toBe('excluded');
  });

  it('layers_to_transform applies on suffix matches only, with PEFT 0.21 layers_pattern', () => {
    const config = new LoraConfig({ targetModules: ['q_proj'], layersToTransform: [1] });
    expect(checkTargetModule(config, q0)).toBe('miss');
    expect(checkTargetModule(config, q1)).toBe('match');
    const exact = new LoraConfig({ targetModules: [q0], layersToTransform: 1 });
    expect(checkTargetModule(exact, q0)).toBe('match');
    const top = new LoraConfig({ targetModules: ['q'], layersToTransform: 0, layersPattern: 'layers' });
    expect(checkTargetModule(top, 'layers.0.q')).toBe('match');
    expect(
      checkTargetModule(new LoraConfig({ targetModules: ['q'], layersToTransform: 0 }), 'layers.0.q'),
    ).toBe('miss');
  });
});

describe('rank_pattern / alpha_pattern', () => {
  it('the first matching key wins, keys are regexes on dotted suffixes', () => {
    const pattern = { q_proj: 2, 'layers.1.self_attn.v_proj': 3, 'model\\.layers\\.0\\.self_attn\\.k_.*': 5 };
    expect(resolvePattern(pattern, q0, 8)).toBe(2);
    expect(resolvePattern(pattern, 'model.layers.1.self_attn.v_proj', 8)).toBe(3);
    expect(resolvePattern(pattern, 'model.layers.0.self_attn.v_proj', 8)).toBe(8);
    expect(resolvePattern(pattern, 'model.layers.0.self_attn.k_proj', 8)).toBe(5);
  });
});

describe('target list minimization', () => {
  it('reduces a 4-layer Llama all-linear list to the seven projection names', () => {
    const projections = [
      'self_attn.q_proj',
      'self_attn.k_proj',
      'self_attn.v_proj',
      'self_attn.o_proj',
      'mlp.gate_proj',
      'mlp.up_proj',
      'mlp.down_proj',
    ];
    const targets = [0, 1, 2, 3].flatMap((i) => projections.map((p) => `model.layers.${i}.${p}`));
    const all = ['model', 'model.embed_tokens', 'model.layers', ...targets, 'model.norm', 'lm_head'];
    expect(minimizeTargetModules(targets, all).sort()).toEqual([
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ]);
  });
});
