import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createModel } from '@lorakit/models';
import { type AnyModule, Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { getPeftModel, saveAdapter } from '../index.js';
import { transformersModuleOf } from './save.js';

class Custom extends Module {
  constructor(readonly transformersModule?: unknown) {
    super();
    this.registerModule('q_proj', new Linear(4, 4));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x);
  }
}

async function savedAutoMapping(model: AnyModule): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'lorakit-auto-mapping-'));
  await saveAdapter(getPeftModel(model, { targetModules: ['q_proj', 'c_attn'] }), dir);
  return JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')).auto_mapping;
}

describe('auto_mapping', () => {
  it('names the module the model reports, with no architecture list in lora', async () => {
    const gpt2 = createModel({
      model_type: 'gpt2',
      vocab_size: 8,
      n_embd: 4,
      n_layer: 1,
      n_head: 1,
      n_positions: 4,
    });
    expect(await savedAutoMapping(gpt2)).toEqual({
      base_model_class: 'GPT2LMHeadModel',
      parent_library: 'transformers.models.gpt2.modeling_gpt2',
    });
    expect(await savedAutoMapping(new Custom('my_package.modeling'))).toEqual({
      base_model_class: 'Custom',
      parent_library: 'my_package.modeling',
    });
  });

  it('writes __main__ for a model that names no module, as PEFT does', () => {
    expect(transformersModuleOf(new Custom())).toBe('__main__');
    expect(transformersModuleOf(new Custom(''))).toBe('__main__');
    expect(transformersModuleOf(new Custom(42))).toBe('__main__');
  });
});
