import { join } from 'node:path';
import { type AnyModule, Conv1d, Conv2d, Embedding, Linear, Module } from '@lorakit/nn';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { expectClose, readAll } from '../test/helpers.js';
import { loadAdapter } from './index.js';

/** The fixture's TinyMixed: every layer kind LoRA supports. */
class TinyMixed extends Module<[], never> {
  constructor() {
    super();
    this.registerModule('emb', new Embedding(50, 16));
    this.registerModule('lin', new Linear(16, 12));
    this.registerModule('lin_nobias', new Linear(12, 8, { bias: false }));
    this.registerModule('conv2d', new Conv2d(3, 8, 3, { padding: 1 }));
    this.registerModule('conv1d', new Conv1d(4, 6, 3));
    this.registerModule('conv2d_1x1', new Conv2d(8, 4, 1));
  }
  forward(): never {
    throw new Error('TinyMixed has no forward');
  }
}

const dir = join(peftFixturesDir(), 'custom_layers');
const io = readAll(join(dir, 'io.safetensors'));
const modules = ['emb', 'lin', 'lin_nobias', 'conv2d', 'conv1d', 'conv2d_1x1'];

function baseModel(): TinyMixed {
  const model = new TinyMixed();
  model.loadStateDict(readAll(join(dir, 'base', 'base.safetensors')));
  return model.eval();
}

function run(model: AnyModule, name: string) {
  return model.getSubmodule(name).call(io.get(`in.${name}`)!);
}

describe('custom_layers conformance (Linear, Embedding, Conv1d/2d, 1×1)', () => {
  it.each(modules)('base %s', (name) => {
    expectClose(run(baseModel(), name), io.get(`base.${name}`)!, 1e-5, 1e-4, `base.${name}`);
  });

  for (const [kind, adapterDir] of [
    ['lora', 'adapter_lora'],
    ['dora', 'adapter_dora'],
  ] as const) {
    it.each(modules.filter((m) => io.has(`${kind}.${m}`)))(`${kind} %s (forward and merged)`, (name) => {
      const peft = loadAdapter(baseModel(), join(dir, adapterDir));
      expectClose(run(peft.model, name), io.get(`${kind}.${name}`)!, 1e-5, 1e-4, `${kind}.${name}`);
      const merged = peft.mergeAndUnload();
      expectClose(run(merged, name), io.get(`${kind}_merged.${name}`)!, 1e-5, 1e-4, `${kind}_merged.${name}`);
      expect(merged.getSubmodule(name).constructor.name).toBe(
        baseModel().getSubmodule(name).constructor.name,
      );
    });
  }
});
