import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AnyModule, Embedding, Linear, Module, ModuleList } from '@lorakit/nn';
import { writeSafetensors } from '@lorakit/safetensors';
import { Generator, manualSeed, randn, type Tensor, tensor, zeros } from '@lorakit/tensor';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  AdapterError,
  AdapterFormatError,
  getPeftModel,
  LoraConfig,
  type LoraLinear,
  loadAdapter,
  MergeError,
  ModulesToSaveWrapper,
  NoMatchingModuleError,
  saveAdapter,
} from '../index.js';

class Block extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(8, 8));
    this.registerModule('v_proj', new Linear(8, 8));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x).add(this.child('v_proj').call(x)).tanh();
  }
}

class Toy extends Module<[{ inputIds: Tensor }], { logits: Tensor }> {
  constructor() {
    super();
    this.registerModule('embed_tokens', new Embedding(20, 8));
    this.registerModule('layers', new ModuleList([new Block(), new Block()]));
    this.registerModule('head', new Linear(8, 5));
  }
  forward({ inputIds }: { inputIds: Tensor }) {
    let h = this.child('embed_tokens').call(inputIds);
    for (const layer of this.child<ModuleList<Block>>('layers')) h = layer.call(h);
    return { logits: this.child('head').call(h) };
  }
}

const ids = tensor(
  [
    [1, 2, 3],
    [4, 5, 6],
  ],
  { dtype: 'int64' },
);
const run = (m: AnyModule) => (m.call({ inputIds: ids }) as { logits: Tensor }).logits;
const array = (t: Tensor) => Array.from(t.toArray() as Float32Array);

describe('PeftModel', () => {
  beforeEach(() => manualSeed(1));

  it('starts as the identity (default init) and freezes the base', () => {
    const model = new Toy();
    const before = array(run(model));
    const peft = getPeftModel(model, { targetModules: ['q_proj', 'v_proj'] });
    expect(array(run(peft))).toEqual(before);
    const trainable = peft
      .namedParameters()
      .filter(([, p]) => p.requiresGrad)
      .map(([n]) => n);
    expect(trainable).toEqual([
      'base_model.model.layers.0.q_proj.lora_A.default.weight',
      'base_model.model.layers.0.q_proj.lora_B.default.weight',
      'base_model.model.layers.0.v_proj.lora_A.default.weight',
      'base_model.model.layers.0.v_proj.lora_B.default.weight',
      'base_model.model.layers.1.q_proj.lora_A.default.weight',
      'base_model.model.layers.1.q_proj.lora_B.default.weight',
      'base_model.model.layers.1.v_proj.lora_A.default.weight',
      'base_model.model.layers.1.v_proj.lora_B.default.weight',
    ]);
    const total = 20 * 8 + 2 * 2 * (8 * 8 + 8) + (8 * 5 + 5) + 512;
    expect(peft.trainableParametersSummary()).toBe(
      `trainable params: 512 || all params: ${total.toLocaleString('en-US')} || trainable%: ${((100 * 512) / total).toFixed(4)}`,
    );
  });

  it('takes a generator for reproducible init, and collects init warnings', () => {
    const factorsWith = (seed: number) => {
      const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'] }, { generator: new Generator(seed) });
      return array(peft.model.getSubmodule<LoraLinear>('layers.0.q_proj').loraA('default').weight);
    };
    expect(factorsWith(5)).toEqual(factorsWith(5));
    expect(factorsWith(5)).not.toEqual(factorsWith(6));
  });

  it('names the modules that exist when nothing matches', () => {
    expect(() => getPeftModel(new Toy(), { targetModules: ['q_prj'] })).toThrow(NoMatchingModuleError);
    expect(() => getPeftModel(new Toy(), { targetModules: ['q_prj'] })).toThrow(
      "[lora] Target modules {'q_prj'} not found in the base model. Please check the target modules and try again. Leaf modules in this model: embed_tokens, layers.0.q_proj, layers.0.v_proj, layers.1.q_proj, layers.1.v_proj, head.",
    );
    expect(() => getPeftModel(new Toy(), { targetModules: ['q_proj'], excludeModules: '.*' })).toThrow(
      '[lora] All modules were excluded.',
    );
    expect(() => getPeftModel(new Toy(), { targetModules: ['q_proj'], excludeModules: ['q_proj'] })).toThrow(
      '[lora] No modules were targeted for adaptation.',
    );
    expect(() => getPeftModel(new Toy(), { targetModules: ['q_proj'], layersToTransform: [5] })).toThrow(
      "Note: You specified 'layers_to_transform': [5].",
    );
  });

  it('adds, activates (several at once), disables and deletes adapters', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    const base = peft.withAdaptersDisabled(() => array(run(peft)));
    const a = array(run(peft));
    peft.addAdapter('b', { targetModules: ['v_proj'], initLoraWeights: false });
    expect(peft.activeAdapters).toEqual(['default']);
    expect(array(run(peft))).toEqual(a);
    const bParams = peft.namedParameters().filter(([n]) => n.includes('.b.'));
    expect(bParams.every(([, p]) => !p.requiresGrad)).toBe(true);
    peft.setAdapter(['default', 'b']);
    const both = array(run(peft));
    expect(both).not.toEqual(a);
    expect(() => peft.addAdapter('b', { targetModules: ['v_proj'] })).toThrow(
      "[lora] Adapter with name 'b' already exists.",
    );
    expect(() => peft.setAdapter('c')).toThrow('[lora] Adapter c not found. Adapters: default, b');
    peft.enableAdapters(false);
    expect(array(run(peft))).toEqual(base);
    peft.enableAdapters(true);
    expect(array(run(peft))).toEqual(both);
    peft.deleteAdapter('b');
    expect(peft.activeAdapters).toEqual(['default']);
    expect(array(run(peft))).toEqual(a);
    expect(() => peft.deleteAdapter('b')).toThrow('[lora] Adapter b does not exist');
  });

  it('merges, unmerges and merges-and-unloads without changing outputs', () => {
    const peft = getPeftModel(new Toy(), {
      targetModules: ['q_proj', 'embed_tokens'],
      initLoraWeights: false,
      useDora: false,
    });
    const out = array(run(peft));
    peft.merge();
    expect(
      run(peft)
        .sub(tensor(out, { shape: [2, 3, 5] }))
        .abs()
        .max()
        .item(),
    ).toBeLessThan(1e-5);
    expect(() => peft.deleteAdapter('default')).toThrow(
      "[lora] Cannot delete adapter(s) ['default'] while they are merged. Please unmerge them first.",
    );
    peft.unmerge();
    expect(
      run(peft)
        .sub(tensor(out, { shape: [2, 3, 5] }))
        .abs()
        .max()
        .item(),
    ).toBeLessThan(1e-5);
    const merged = peft.mergeAndUnload();
    expect(merged.getSubmodule('layers.0.q_proj')).toBeInstanceOf(Linear);
    expect(
      run(merged)
        .sub(tensor(out, { shape: [2, 3, 5] }))
        .abs()
        .max()
        .item(),
    ).toBeLessThan(1e-5);
  });

  it('safe merge refuses NaN/Inf and leaves the weights untouched', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'] });
    const layer = peft.model.getSubmodule<LoraLinear>('layers.0.q_proj');
    layer.loraB('default').weight.assign(Number.POSITIVE_INFINITY);
    const before = array(layer.baseWeight());
    expect(() => peft.merge({ safeMerge: true })).toThrow(MergeError);
    expect(() => peft.merge({ safeMerge: true })).toThrow(
      '[lora] NaNs detected in the merged weights of layers.0.q_proj. The adapter default seems to be broken; nothing was merged',
    );
    expect(array(layer.baseWeight())).toEqual(before);
    expect(layer.merged).toBe(false);
  });

  it('serves mixed batches row by row, and refuses them while training', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    peft.addAdapter('b', { targetModules: ['q_proj', 'v_proj'], initLoraWeights: false });
    peft.eval();
    const rowsOf = (t: Tensor) => t.toList() as number[][][];
    const withA = rowsOf(run(peft));
    peft.setAdapter('b');
    const withB = rowsOf(run(peft));
    const base = peft.withAdaptersDisabled(() => rowsOf(run(peft)));
    const mixed = rowsOf(
      (peft.call({ inputIds: ids, adapterNames: ['b', '__base__'] }) as { logits: Tensor }).logits,
    );
    const close = (a: number[][], b: number[][]) =>
      expect(Math.max(...a.flat().map((v, i) => Math.abs(v - b.flat()[i]!)))).toBeLessThan(1e-6);
    close(mixed[0]!, withB[0]!);
    close(mixed[1]!, base[1]!);
    expect(withA[0]).not.toEqual(withB[0]);
    expect(() => peft.call({ inputIds: ids, adapterNames: ['zz', 'b'] })).toThrow(
      '[lora] Trying to infer with non-existing adapter(s): zz',
    );
    expect(() => peft.call({ inputIds: ids, adapterNames: ['b'] })).toThrow(
      '[lora] Length of `adapter_names` should be the same as the number of inputs, but got 1 and 2 respectively.',
    );
    peft.train();
    expect(() => peft.call({ inputIds: ids, adapterNames: ['b', 'b'] })).toThrow(
      '[lora] Cannot pass `adapter_names` when the model is in training mode.',
    );
  });

  it('modules_to_save trains a copy and unload keeps the trained copy', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], modulesToSave: ['head'] });
    const wrapper = peft.model.getSubmodule<ModulesToSaveWrapper>('head');
    expect(wrapper).toBeInstanceOf(ModulesToSaveWrapper);
    expect(wrapper.original.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(
      wrapper
        .copyFor('default')
        .parameters()
        .every((p) => p.requiresGrad),
    ).toBe(true);
    wrapper.copyFor('default').param('bias')!.assign(7);
    expect(array(run(peft)).every((v) => Math.abs(v - 7) < 3)).toBe(true);
    const plain = peft.unload();
    expect((plain.getSubmodule('head') as Linear).bias!.toList()).toEqual([7, 7, 7, 7, 7]);
  });

  it('layer_replication shares base weights and gives each replica its own LoRA', () => {
    class Stack extends Module<[{ inputIds: Tensor }], { logits: Tensor }> {
      constructor() {
        super();
        const inner = new Toy();
        this.registerModule('model', inner);
      }
      forward(x: { inputIds: Tensor }) {
        return this.child('model').call(x) as { logits: Tensor };
      }
    }
    const model = new Stack();
    const peft = getPeftModel(model, {
      targetModules: ['q_proj'],
      layerReplication: [
        [0, 2],
        [1, 2],
      ],
    });
    const layers = peft.model.getSubmodule<ModuleList>('model.layers');
    expect(layers.length).toBe(3);
    const w1 = layers.at(1).getSubmodule<LoraLinear>('q_proj').baseLayer.param('weight');
    const w2 = layers.at(2).getSubmodule<LoraLinear>('q_proj').baseLayer.param('weight');
    expect(w1).toBe(w2);
    expect(layers.at(1).getSubmodule<LoraLinear>('q_proj').loraA('default').weight).not.toBe(
      layers.at(2).getSubmodule<LoraLinear>('q_proj').loraA('default').weight,
    );
  });
});

describe('saving and loading', () => {
  it('saves atomically and loads strictly, listing what does not fit', async () => {
    const toy = () => {
      manualSeed(3);
      return new Toy();
    };
    const peft = getPeftModel(toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-save-'));
    await saveAdapter(peft, dir);
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const loaded = loadAdapter(toy(), dir);
    expect(array(run(loaded))).toEqual(array(run(peft)));
    expect(loaded.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(loadAdapter(new Toy(), dir, { isTrainable: true }).trainableParameterCounts().trainable).toBe(256);

    // A file with an extra key, a missing key and a wrong shape.
    const broken = mkdtempSync(join(tmpdir(), 'lorakit-broken-'));
    writeFileSync(join(broken, 'adapter_config.json'), readConfig(dir));
    await writeSafetensors(join(broken, 'adapter_model.safetensors'), [
      {
        name: 'base_model.model.layers.0.q_proj.lora_A.weight',
        dtype: 'F32',
        shape: [4, 8],
        data: new Float32Array(32),
      },
      {
        name: 'base_model.model.layers.0.q_proj.lora_B.weight',
        dtype: 'F32',
        shape: [8, 8],
        data: new Float32Array(64),
      },
      { name: 'base_model.model.surprise', dtype: 'F32', shape: [1], data: new Float32Array(1) },
    ]);
    expect(() => loadAdapter(new Toy(), broken)).toThrow(AdapterFormatError);
    expect(() => loadAdapter(new Toy(), broken)).toThrow(
      `[loadAdapter] ${join(broken, 'adapter_model.safetensors')} does not fit the model: shape mismatches: base_model.model.layers.0.q_proj.lora_A.weight: file [4, 8] vs model [8, 8]; missing keys: base_model.model.layers.1.q_proj.lora_A.weight, base_model.model.layers.1.q_proj.lora_B.weight; unexpected keys: base_model.model.surprise`,
    );
    expect(() => loadAdapter(new Toy(), join(dir, 'nope'))).toThrow(
      'has no adapter_config.json (the directory does not exist)',
    );
  });

  it('a failed save leaves the previous adapter intact', async () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'] });
    const dir = mkdtempSync(join(tmpdir(), 'lorakit-atomic-'));
    await saveAdapter(peft, dir);
    const layer = peft.model.getSubmodule<LoraLinear>('layers.0.q_proj');
    // Dispose a parameter's storage so reading it during the save throws midway.
    layer.loraB('default').weight.dispose();
    await expect(saveAdapter(peft, dir)).rejects.toThrow('disposed');
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(existsSync(join(dir, 'adapter_model.safetensors'))).toBe(true);
    expect(loadAdapter(new Toy(), dir)).toBeTruthy();
    await expect(saveAdapter(peft, join(dir, 'adapter_config.json'))).rejects.toThrow(
      'is a file; the adapter is saved into a directory',
    );
    expect(() => new LoraConfig({ r: 0 })).not.toThrow();
    expect(() => getPeftModel(new Toy(), { r: 0, targetModules: ['q_proj'] })).toThrow(
      '[lora] `r` should be a positive integer value but the value passed is 0',
    );
    expect(AdapterError).toBeTruthy();
    expect(zeros([1]).size).toBe(1);
    expect(randn([1]).size).toBe(1);
  });
});

function readConfig(dir: string): string {
  return readFileSync(join(dir, 'adapter_config.json'), 'utf8');
}
