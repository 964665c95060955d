import { join } from 'node:path';
import { loadAdapter } from '@lorakit/lora';
import { type AnyModule, Conv1d, Conv2d, Embedding, Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import type { Check } from '../report.js';
import type { CaseContext } from '../run.js';
import { compareTensors, readTensors, toleranceOf } from '../tensors.js';

/** The fixtures' TinyMixed custom module (see the fixtures README, kind `layers`). */
class TinyMixed extends Module<[], never> {
  constructor() {
    super();
    this.registerModule('emb', new Embedding(50, 16, { init: false }));
    this.registerModule('lin', new Linear(16, 12, { init: false }));
    this.registerModule('lin_nobias', new Linear(12, 8, { bias: false, init: false }));
    this.registerModule('conv2d', new Conv2d(3, 8, 3, { padding: 1, init: false }));
    this.registerModule('conv1d', new Conv1d(4, 6, 3, { init: false }));
    this.registerModule('conv2d_1x1', new Conv2d(8, 4, 1, { init: false }));
  }
  forward(): never {
    throw new Error('TinyMixed has no forward of its own');
  }
}

/** `layers`: every LoRA layer kind on a custom module — LoRA, DoRA, and both merged. */
export function runLayers({ dir, spec }: CaseContext): Check[] {
  const tolerance = toleranceOf(spec, { atol: 1e-5, rtol: 1e-4 });
  const io = readTensors(join(dir, 'io.safetensors'));
  const modules = (spec.modules as string[] | undefined) ?? [
    'emb',
    'lin',
    'lin_nobias',
    'conv2d',
    'conv1d',
    'conv2d_1x1',
  ];
  const base = () => {
    const model = new TinyMixed();
    model.loadStateDict(readTensors(join(dir, 'base', 'base.safetensors')));
    return model.eval();
  };
  const run = (model: AnyModule, name: string): Tensor =>
    model.getSubmodule(name).call(io.get(`in.${name}`)!);
  const checks: Check[] = [];
  const plain = base();
  for (const name of modules)
    checks.push(compareTensors(`base.${name}`, run(plain, name), io.get(`base.${name}`)!, tolerance));
  for (const [kind, adapter] of [
    ['lora', 'adapter_lora'],
    ['dora', 'adapter_dora'],
  ] as const) {
    const peft = loadAdapter(base(), join(dir, adapter));
    const present = modules.filter((m) => io.has(`${kind}.${m}`));
    for (const name of present)
      checks.push(
        compareTensors(`${kind}.${name}`, run(peft.model, name), io.get(`${kind}.${name}`)!, tolerance),
      );
    const merged = peft.mergeAndUnload();
    for (const name of present) {
      checks.push(
        compareTensors(
          `${kind}_merged.${name}`,
          run(merged, name),
          io.get(`${kind}_merged.${name}`)!,
          tolerance,
        ),
      );
    }
  }
  return checks;
}
