import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KEY_PREFIX,
  type LoraLayerKind,
  loadAdapter,
  type PeftModel,
  readAdapterConfig,
  WEIGHTS_NAME,
} from '@lorakit/lora';
import { type AnyModule, Conv1D, Conv2d, Embedding, Linear, Module } from '@lorakit/nn';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineAdapterFiles } from '../src/index.js';
import { baseLayoutDelta } from '../src/strategies/factor-matrices.js';
import { ErrorReport } from './compare.js';
import { type MergeSpec, optionsOf } from './fixture.js';
import { checkDeterministic, type MergedModule, type Reference } from './merge-checks.js';

/**
 * PEFT 0.21 merges on the layer kinds the `merges` fixture lacks (test-data/generate.py): an
 * embedding, a linear, a 3×3 and a 1×1 Conv2d (`mixed`), and GPT-2 Conv1D with fan_in_fan_out
 * (`conv1d_gpt2`) — the reshapes and transposes of the SVD family, and the A/B-space and cat forms.
 */
class Mixed extends Module<[], never> {
  constructor() {
    super();
    this.registerModule('emb', new Embedding(50, 16));
    this.registerModule('lin', new Linear(16, 12));
    this.registerModule('conv2d', new Conv2d(3, 8, 3, { padding: 1 }));
    this.registerModule('conv2d_1x1', new Conv2d(8, 10, 1));
  }
  forward(): never {
    throw new Error('no forward');
  }
}

class Gpt2Like extends Module<[], never> {
  constructor() {
    super();
    this.registerModule('c_attn', new Conv1D(24, 16));
    this.registerModule('c_proj', new Conv1D(16, 8));
  }
  forward(): never {
    throw new Error('no forward');
  }
}

const CASES: Record<string, { model: () => AnyModule; kinds: Record<string, LoraLayerKind> }> = {
  mixed: {
    model: () => new Mixed(),
    kinds: { emb: 'embedding', lin: 'linear', conv2d: 'conv', conv2d_1x1: 'conv' },
  },
  conv1d_gpt2: { model: () => new Gpt2Like(), kinds: { c_attn: 'linear', c_proj: 'linear' } },
};

const report = new ErrorReport();
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'lorakit-merge-kinds-'));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  report.print('PEFT reference merges per layer kind (max |error| per case/tag and tensor)');
});

for (const [caseName, setup] of Object.entries(CASES)) {
  const dir = join(import.meta.dirname, '..', 'test-data', caseName);
  const meta = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as {
    merges: Record<string, Omit<MergeSpec, 'deterministic'>>;
  };
  const tensors = readTensorFile(join(dir, 'expected.safetensors'));
  const reference: Reference = {
    tensors,
    modules: (tag) =>
      [...tensors.keys()]
        .filter((k) => k.startsWith(`${tag}.`) && k.endsWith('.lora_A'))
        .map((k) => k.slice(tag.length + 1, -7)),
  };
  const adapterDir = (name: string) => join(dir, 'adapter', name);
  const fanInFanOut = readAdapterConfig(adapterDir('a')).fanInFanOut;

  describe(`${caseName}: PEFT reference merges`, () => {
    let peft: PeftModel;
    beforeAll(() => {
      peft = loadAdapter(setup.model(), adapterDir('a'), { adapterName: 'a' });
      loadAdapter(peft, adapterDir('b'), { adapterName: 'b' });
      loadAdapter(peft, adapterDir('c'), { adapterName: 'c' });
    });

    it.each(Object.entries(meta.merges))('%s through addWeightedAdapter', (tag, raw) => {
      const spec = { ...raw, deterministic: true };
      const name = `m_${tag}`;
      const config = peft.addWeightedAdapter(
        spec.adapters,
        spec.weights,
        name,
        spec.combination_type,
        optionsOf(spec),
      );
      expect([config?.r, config?.loraAlpha]).toEqual([spec.r, spec.lora_alpha]);
      const layers = new Map(peft.loraLayers());
      const merged = (module: string): MergedModule => {
        const layer = layers.get(module)!;
        expect(layer.kind).toBe(setup.kinds[module]);
        const { a, b } = layer.factorParameters(name);
        return { a, b, delta: layer.deltaWeight(name) };
      };
      checkDeterministic(
        `${caseName} ${tag}`,
        spec,
        merged,
        report,
        undefined,
        rename(reference, `${caseName} ${tag}`, tag),
      );
    });

    it.each(Object.entries(meta.merges))('%s through combineAdapterFiles', async (tag, raw) => {
      const spec = { ...raw, deterministic: true };
      const outDir = join(scratch, caseName, tag);
      await combineAdapterFiles({
        adapters: spec.adapters.map(adapterDir),
        weights: spec.weights,
        type: spec.combination_type,
        options: optionsOf(spec),
        outDir,
      });
      const config = readAdapterConfig(outDir);
      expect([config.r, config.loraAlpha, config.fanInFanOut]).toEqual([
        spec.r,
        spec.lora_alpha,
        fanInFanOut,
      ]);
      const written = readTensorFile(join(outDir, WEIGHTS_NAME));
      const merged = (module: string): MergedModule => {
        const kind = setup.kinds[module]!;
        const suffix =
          kind === 'embedding'
            ? ['lora_embedding_A', 'lora_embedding_B']
            : ['lora_A.weight', 'lora_B.weight'];
        const a = written.get(`${KEY_PREFIX}${module}.${suffix[0]}`) as Tensor;
        const b = written.get(`${KEY_PREFIX}${module}.${suffix[1]}`) as Tensor;
        return { a, b, delta: baseLayoutDelta(kind, a, b, 1, fanInFanOut) };
      };
      checkDeterministic(
        `${caseName} ${tag}`,
        spec,
        merged,
        report,
        undefined,
        rename(reference, `${caseName} ${tag}`, tag),
      );
    });
  });
}

/** The reference under the report's tag name (`case tag`) while its tensors keep the plain tag. */
function rename(reference: Reference, label: string, tag: string): Reference {
  return {
    tensors: new Map(
      [...reference.tensors]
        .filter(([k]) => k.startsWith(`${tag}.`))
        .map(([k, v]) => [`${label}${k.slice(tag.length)}`, v]),
    ),
    modules: () => reference.modules(tag),
  };
}
