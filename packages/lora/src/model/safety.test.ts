import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Linear, Module, ModuleList } from '@lorakit/nn';
import { writeSafetensors } from '@lorakit/safetensors';
import { manualSeed, type Tensor } from '@lorakit/tensor';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AdapterFormatError,
  getPeftModel,
  type LoraLinear,
  loadAdapter,
  MergeError,
  PeftModel,
  saveAdapter,
} from '../index.js';

class Block extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(8, 8));
    this.registerModule('v_proj', new Linear(8, 8));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x).add(this.child('v_proj').call(x));
  }
}

class Toy extends Module {
  constructor() {
    super();
    this.registerModule('layers', new ModuleList([new Block(), new Block()]));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.child<ModuleList<Block>>('layers')) h = layer.call(h);
    return h;
  }
}

const values = (m: { parameters(): { toArray(): unknown }[] }) =>
  m.parameters().map((p) => Array.from(p.toArray() as Float32Array));

let dir: string;
beforeEach(() => {
  manualSeed(5);
  dir = mkdtempSync(join(tmpdir(), 'lorakit-safety-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('safe merge checks every module before changing any', () => {
  it('NaN in layer 1 leaves layer 0 unmerged too, and names the module', () => {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj', 'v_proj'], initLoraWeights: false });
    peft.model.getSubmodule<LoraLinear>('layers.1.q_proj').loraB('default').weight.assign(Number.NaN);
    const before = values(peft);
    const message =
      '[lora] NaNs detected in the merged weights of layers.1.q_proj. The adapter default seems to be broken; nothing was merged';
    expect(() => peft.merge({ safeMerge: true })).toThrow(MergeError);
    expect(() => peft.merge({ safeMerge: true })).toThrow(message);
    expect(values(peft)).toEqual(before);
    expect(peft.loraLayers().every(([, l]) => !l.merged)).toBe(true);
    expect(() => peft.mergeAndUnload({ safeMerge: true })).toThrow(message);
    expect(values(peft)).toEqual(before);
    expect(peft.loraLayers()).toHaveLength(4);
  });

  it('a healthy safe merge gives the same weights as a plain one', () => {
    const a = getPeftModel(new Toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    manualSeed(5);
    const b = getPeftModel(new Toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    a.merge({ safeMerge: true });
    b.merge();
    expect(values(a)).toEqual(values(b));
  });
});

describe('safe merge with DoRA', () => {
  it('merges like a plain merge and unmerges back to the base weights', () => {
    const options = { targetModules: ['q_proj'], initLoraWeights: false, useDora: true } as const;
    const a = getPeftModel(new Toy(), options);
    manualSeed(5);
    const b = getPeftModel(new Toy(), options);
    const before = values(a);
    a.merge({ safeMerge: true });
    b.merge();
    expect(values(a)).toEqual(values(b));
    a.unmerge();
    const after = values(a).flat();
    for (const [i, v] of before.flat().entries()) expect(after[i]).toBeCloseTo(v, 5);
  });
});

describe('a failed loadAdapter rolls back', () => {
  async function brokenAdapter(): Promise<void> {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], initLoraWeights: false });
    await saveAdapter(peft, dir);
    const config = readFileSync(join(dir, 'adapter_config.json'), 'utf8');
    writeFileSync(join(dir, 'adapter_config.json'), config);
    await writeSafetensors(join(dir, 'adapter_model.safetensors'), [
      {
        name: 'base_model.model.layers.0.q_proj.lora_A.weight',
        dtype: 'F32',
        shape: [8, 8],
        data: new Float32Array(64),
      },
    ]);
  }

  it('onto a plain model: no LoRA layer stays injected and trainability is as before', async () => {
    await brokenAdapter();
    const model = new Toy();
    const before = model.namedModules().map(([n, m]) => [n, m.constructor.name]);
    expect(() => loadAdapter(model, dir)).toThrow(AdapterFormatError);
    expect(model.namedModules().map(([n, m]) => [n, m.constructor.name])).toEqual(before);
    expect(model.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('onto a PeftModel: the other adapter is untouched', async () => {
    await brokenAdapter();
    const peft = getPeftModel(new Toy(), { targetModules: ['v_proj'] });
    expect(() => loadAdapter(peft, dir, { adapterName: 'other' })).toThrow(AdapterFormatError);
    expect([...peft.peftConfig.keys()]).toEqual(['default']);
    expect(peft.loraLayers().map(([p]) => p)).toEqual(['layers.0.v_proj', 'layers.1.v_proj']);
    expect(peft).toBeInstanceOf(PeftModel);
  });
});

describe('loadAdapter refuses what it would get silently wrong', () => {
  async function adapterWith(
    tensors: {
      name: string;
      dtype: 'F32' | 'I32' | 'I8';
      shape: number[];
      data: Float32Array | Int32Array | Int8Array;
    }[],
  ): Promise<string> {
    const peft = getPeftModel(new Toy(), { targetModules: ['q_proj'], r: 2 });
    await saveAdapter(peft, dir);
    await writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
    return join(dir, 'adapter_model.safetensors');
  }
  const key = (layer: number, part: 'A' | 'B') =>
    `base_model.model.layers.${layer}.q_proj.lora_${part}.weight`;

  it('integer lora_A / lora_B tensors', async () => {
    const path = await adapterWith([
      { name: key(0, 'A'), dtype: 'I32', shape: [2, 8], data: new Int32Array(16) },
      { name: key(0, 'B'), dtype: 'I8', shape: [8, 2], data: new Int8Array(16) },
      { name: key(1, 'A'), dtype: 'F32', shape: [2, 8], data: new Float32Array(16) },
      { name: key(1, 'B'), dtype: 'F32', shape: [8, 2], data: new Float32Array(16) },
    ]);
    expect(() => loadAdapter(new Toy(), dir)).toThrow(
      `[loadAdapter] ${path} does not fit the model: tensors that are not floating point: ${key(0, 'A')} (I32), ${key(0, 'B')} (I8)`,
    );
  });

  it('a file with no tensors', async () => {
    const path = await adapterWith([]);
    expect(() => loadAdapter(new Toy(), dir)).toThrow(
      `[loadAdapter] ${path} does not fit the model: the file has no tensors; missing keys: ${key(0, 'A')}, ${key(0, 'B')}, ${key(1, 'A')}, ${key(1, 'B')}`,
    );
  });

  it('a config that is a JSON array', async () => {
    await adapterWith([]);
    writeFileSync(join(dir, 'adapter_config.json'), '[1, 2]');
    expect(() => loadAdapter(new Toy(), dir)).toThrow(
      `[loadAdapter] ${join(dir, 'adapter_config.json')} must hold a JSON object, received an array`,
    );
  });
});
