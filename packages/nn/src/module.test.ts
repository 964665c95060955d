import { manualSeed, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import {
  Conv1D,
  Embedding,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  Parameter,
  StateDictError,
} from './index.js';

class Block extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(4, 4));
    this.registerModule('norm', new LayerNorm(4));
  }
  forward(x: Tensor): Tensor {
    return this.child<Linear>('norm').call(this.child<Linear>('q_proj').call(x));
  }
}

class Tiny extends Module {
  constructor() {
    super();
    this.registerModule('embed_tokens', new Embedding(10, 4));
    this.registerModule('layers', new ModuleList([new Block(), new Block()]));
    const head = this.registerModule('lm_head', new Linear(4, 10, { bias: false }));
    head.registerParameter('weight', this.child<Embedding>('embed_tokens').weight);
  }
  forward(ids: Tensor): Tensor {
    let h = this.child<Embedding>('embed_tokens').call(ids);
    for (const layer of this.child<ModuleList<Block>>('layers')) h = layer.call(h);
    return this.child<Linear>('lm_head').call(h);
  }
}

describe('Module', () => {
  manualSeed(0);
  it('names modules and parameters like transformers, tied weights once', () => {
    const model = new Tiny();
    expect(model.namedModules().map(([n]) => n)).toEqual([
      '',
      'embed_tokens',
      'layers',
      'layers.0',
      'layers.0.q_proj',
      'layers.0.norm',
      'layers.1',
      'layers.1.q_proj',
      'layers.1.norm',
      'lm_head',
    ]);
    expect(model.namedParameters().map(([n]) => n)).toContain('layers.1.norm.bias');
    expect(model.namedParameters().map(([n]) => n)).not.toContain('lm_head.weight');
    expect([...model.stateDict().keys()]).toContain('lm_head.weight');
    expect(model.numParameters()).toBe(40 + 2 * (16 + 4 + 8));
    expect(model.call(tensor([[1, 2, 3]], { dtype: 'int64' })).shape).toEqual([1, 3, 10]);
  });

  it('replaces submodules by dotted path and reports missing ones with the children', () => {
    const model = new Tiny();
    const replacement = new Linear(4, 4, { bias: false });
    model.setSubmodule('layers.1.q_proj', replacement);
    expect(model.getSubmodule('layers.1.q_proj')).toBe(replacement);
    expect(() => model.getSubmodule('layers.1.k_proj')).toThrow(
      '[getSubmodule] "layers.1.k_proj" does not exist: "k_proj"\'s parent has children q_proj, norm',
    );
  });

  it('loads state dicts strictly and keeps ties', () => {
    const model = new Tiny();
    const state = new Map(model.stateDict());
    state.set('embed_tokens.weight', zeros([10, 4]).add(1));
    state.set('lm_head.weight', state.get('embed_tokens.weight')!);
    model.loadStateDict(state);
    expect(model.child<Linear>('lm_head').weight.sum().item()).toBe(40);
    state.delete('layers.0.norm.bias');
    state.set('layers.0.extra', zeros([1]));
    state.set('layers.1.q_proj.weight', zeros([3, 4]));
    expect(() => model.loadStateDict(state)).toThrow(StateDictError);
    expect(() => model.loadStateDict(state)).toThrow(
      '[loadStateDict] Tiny: shape mismatches: layers.1.q_proj.weight: checkpoint [3, 4] vs model [4, 4]; missing keys: layers.0.norm.bias; unexpected keys: layers.0.extra',
    );
  });

  it('runs hooks and GPT-2 Conv1D stores weights [in, out]', () => {
    const conv = new Conv1D(6, 4);
    expect(conv.weight.shape).toEqual([4, 6]);
    const seen: number[][] = [];
    const handle = conv.registerForwardHook((_m, args) => {
      seen.push([...(args[0] as Tensor).shape]);
      return undefined;
    });
    conv.call(zeros([2, 4]));
    handle.remove();
    conv.call(zeros([2, 4]));
    expect(seen).toEqual([[2, 4]]);
    expect(new Parameter(zeros([2])).requiresGrad).toBe(true);
  });
});

describe('Module.deepCopy', () => {
  it('copies classes, settings and values into new storage, keeping inner ties', () => {
    const model = new Tiny();
    const copy = model.deepCopy();
    expect(copy).toBeInstanceOf(Tiny);
    expect(copy.child<Linear>('lm_head').weight).toBe(copy.child<Embedding>('embed_tokens').weight);
    expect(copy.child<Linear>('lm_head').weight).not.toBe(model.child<Linear>('lm_head').weight);
    copy.child<Embedding>('embed_tokens').weight.zero();
    expect(model.child<Embedding>('embed_tokens').weight.abs().sum().item()).toBeGreaterThan(0);
    expect((copy.getSubmodule('layers.0.q_proj') as Linear).inFeatures).toBe(4);
    const ids = tensor([[1, 2]], { dtype: 'int64' });
    expect(copy.call(ids).abs().sum().item()).toBe(0);
  });
});
