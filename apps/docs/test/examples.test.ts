import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor, tensor } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { fineTune } from '../examples/fine-tune.js';
import { docsPackageRoot, repoRoot } from '../scripts/paths.js';
import { makeTwoAdapters, makeWorkspace, shiftExamples } from './workspace.js';

// The guides' TypeScript samples (examples/*.ts, shown on the pages with `<<<`) run here on tiny data:
// the demo's 84k-parameter Llama and the JavaScript reference backend.
let workspace: ReturnType<typeof makeWorkspace>;
beforeAll(() => {
  workspace = makeWorkspace();
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterAll(() => {
  vi.restoreAllMocks();
  workspace?.cleanup();
});
const at = (name: string) => join(workspace.dir, name);

describe('getting started', () => {
  it('fine-tune.ts trains, saves a PEFT adapter, loads it and generates', async () => {
    const texts = shiftExamples(32).map((e) => e.prompt + e.completion);
    const { losses, completion } = await fineTune(at('my-model'), texts, at('adapter'), 'shift: abc|');
    expect(existsSync(at('adapter/adapter_config.json'))).toBe(true);
    expect(existsSync(at('adapter/adapter_model.safetensors'))).toBe(true);
    expect(losses).toHaveLength(30);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    expect(completion.startsWith('shift: abc|')).toBe(true);
  });
});

describe('LoraConfig', () => {
  it('lora-config.ts round-trips through PEFT keys', async () => {
    const { loraConfigRoundTrip } = await import('../examples/lora-config.js');
    const { dict, again } = loraConfigRoundTrip();
    expect(dict).toMatchObject({ r: 16, lora_alpha: 32, target_modules: 'all-linear', use_rslora: true });
    expect(dict.rank_pattern).toEqual({ v_proj: 8 });
    expect(again.useRslora).toBe(true);
    expect(again.scalingFor(16, 32)).toBe(8);
  });
});

describe('training', () => {
  it('train-loop.ts lowers the held-out loss and saves the adapter', async () => {
    const { trainLoop } = await import('../examples/train-loop.js');
    const examples = shiftExamples(72, 3);
    const { before, after } = await trainLoop(
      at('my-model'),
      examples.slice(0, 64),
      examples.slice(64),
      at('loop'),
    );
    expect(after).toBeLessThan(before * 0.7);
    expect(existsSync(at('loop/adapter_model.safetensors'))).toBe(true);
  });
});

/** A batch of equal-length `shift:` texts for the demo tokenizer (one id per character, BOS first). */
function shiftBatch(count: number): { inputIds: Tensor; labels: Tensor } {
  const texts = shiftExamples(count, 5).map((e) => (e.prompt + e.completion).padEnd(20, ' ').slice(0, 20));
  const ids = texts.map((text) => [
    1,
    ...[...text].map((c) => Math.max(3, Math.min(31, c.charCodeAt(0) - 94))),
  ]);
  return { inputIds: tensor(ids, { dtype: 'int64' }), labels: tensor(ids, { dtype: 'int64' }) };
}
const logitsOf = (model: { call(input: unknown): unknown }, inputIds: Tensor) =>
  Array.from((model.call({ inputIds }) as { logits: Tensor }).logits.toArray() as Float32Array);

describe('initializations', () => {
  it('init-pissa.ts: the converted adapter on the original model equals the trained PiSSA model', async () => {
    const { pissaThenConvert } = await import('../examples/init-pissa.js');
    const batch = shiftBatch(4);
    const peft = await pissaThenConvert(at('my-model'), batch, at('pissa'));
    peft.eval();
    const original = await loadModel(at('my-model'));
    loadAdapter(original, at('pissa/pissa-as-lora'));
    original.eval();
    const expected = logitsOf(peft, batch.inputIds);
    const actual = logitsOf(original, batch.inputIds);
    const maxError = Math.max(...expected.map((value, i) => Math.abs(value - actual[i]!)));
    expect(maxError).toBeLessThan(1e-4);
  });

  it('init-eva.ts assigns ranks summing to r × layers', async () => {
    const { evaInit } = await import('../examples/init-eva.js');
    const texts = shiftExamples(16, 9).map((e) => e.prompt + e.completion);
    const { ranks } = await evaInit(at('my-model'), texts);
    expect(ranks.size).toBeGreaterThan(0);
    expect([...ranks.values()].reduce((a, b) => a + b, 0)).toBe(4 * 4);
  });
});

describe('merging', () => {
  it('merge-adapters.ts: cat equals both adapters active at once; ties and svd exist', async () => {
    const { mergeAdapters } = await import('../examples/merge-adapters.js');
    await makeTwoAdapters(workspace.dir);
    const peft = await mergeAdapters(at('my-model'), at('adapter-a'), at('adapter-b'));
    peft.eval();
    const { inputIds } = shiftBatch(2);
    const cat = logitsOf(peft, inputIds);
    peft.setAdapter(['a', 'b']);
    const both = logitsOf(peft, inputIds);
    expect(Math.max(...cat.map((value, i) => Math.abs(value - both[i]!)))).toBeLessThan(1e-4);
    peft.setAdapter('a');
    const onlyA = logitsOf(peft, inputIds);
    expect(Math.max(...cat.map((value, i) => Math.abs(value - onlyA[i]!)))).toBeGreaterThan(1e-3);
    expect(peft.peftConfig.get('ab_svd')?.r).toBe(4);
    expect(peft.peftConfig.get('ab_ties')?.r).toBe(8);
  });
});

describe('quantized bases', () => {
  it('qlora.ts trains on an NF4 base and the adapter loads on the float base', async () => {
    const { qlora } = await import('../examples/qlora.js');
    const losses = await qlora(at('my-model'), shiftBatch(8), at('qlora'));
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const float = await loadModel(at('my-model'));
    expect(() => loadAdapter(float, at('qlora'))).not.toThrow();
  });

  it('qlora.ts loftq() brings Q + B·A closer to the float model than the 4-bit base alone', async () => {
    const { loftq } = await import('../examples/qlora.js');
    const { inputIds } = shiftBatch(2);
    const reference = logitsOf(await loadModel(at('my-model')), inputIds);
    const { loadQuantizedModel } = await import('@lorakit/loftq');
    const plain = logitsOf(
      await loadQuantizedModel(at('my-model'), { quantize: '4bit', load: loadModel }),
      inputIds,
    );
    const withLoftq = logitsOf(await loftq(at('my-model')), inputIds);
    const distance = (values: number[]) =>
      Math.sqrt(values.reduce((sum, v, i) => sum + (v - reference[i]!) ** 2, 0));
    expect(distance(withLoftq)).toBeLessThan(distance(plain));
  });
});

/** The reference Python stack (torch, transformers, peft), when this checkout has one. */
function referencePython(): { python?: string; reason: string } {
  const python = join(repoRoot, '.venv-ref', 'bin', 'python');
  if (!existsSync(python)) return { reason: `${python} does not exist (see the README: .venv-ref)` };
  const probe = spawnSync(python, ['-c', 'import peft, transformers, torch'], { encoding: 'utf8' });
  return probe.status === 0
    ? { python, reason: '' }
    : { reason: `${python} cannot import peft: ${probe.stderr.trim().split('\n').at(-1)}` };
}
const reference = referencePython();

describe('PEFT interop', () => {
  const fixture = join(repoRoot, 'fixtures', 'peft', 'llama_qv');

  it("peft-interop.ts reproduces PEFT's logits and writes the adapter back unchanged", async () => {
    const { fromPeftAndBack } = await import('../examples/peft-interop.js');
    const io = readTensorFile(join(fixture, 'io.safetensors'));
    const logits = await fromPeftAndBack(
      join(fixture, 'base'),
      join(fixture, 'adapter'),
      io.get('input_ids')!,
      at('back'),
    );
    const expected = Array.from(io.get('logits_adapter')!.toArray() as Float32Array);
    const actual = Array.from(logits.toArray() as Float32Array);
    expect(actual).toHaveLength(expected.length);
    expect(Math.max(...actual.map((value, i) => Math.abs(value - expected[i]!)))).toBeLessThan(1e-4);
    const tensors = (dir: string) => readTensorFile(join(dir, 'adapter_model.safetensors'));
    const original = tensors(join(fixture, 'adapter'));
    const written = tensors(at('back'));
    expect([...written.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, value] of original) expect(written.get(key)!.toList()).toEqual(value.toList());
  });

  it.skipIf(!reference.python)(
    `load_in_peft.py loads a lorakit adapter in PEFT with the same logits${reference.python ? '' : ` (skipped: ${reference.reason})`}`,
    async () => {
      const { getPeftModel, LoraConfig, saveAdapter } = await import('@lorakit/lora');
      const { manualSeed } = await import('@lorakit/tensor');
      manualSeed(4);
      const peft = getPeftModel(
        await loadModel(at('my-model')),
        new LoraConfig({ r: 4, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false }),
      );
      await saveAdapter(peft, at('my-adapter'));
      peft.eval();
      const inputIds = tensor([[1, 20, 12, 9, 11, 25, 3]], { dtype: 'int64' });
      const logits = (peft.call({ inputIds }) as { logits: Tensor }).logits;
      const ours = (logits.toList() as number[][][])[0]!.at(-1)!.slice(0, 8);
      const run = spawnSync(reference.python!, [join(docsPackageRoot, 'examples', 'load_in_peft.py')], {
        cwd: workspace.dir,
        encoding: 'utf8',
      });
      expect(run.stderr.includes('Traceback') ? run.stderr : '').toBe('');
      const theirs = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as number[];
      expect(theirs).toHaveLength(8);
      expect(Math.max(...theirs.map((value, i) => Math.abs(value - ours[i]!)))).toBeLessThan(1e-4);
    },
  );
});

describe('plugins', () => {
  it('init-plugin.ts: a registered init is chosen by name and keeps the output unchanged', async () => {
    const { registerScaledNormal } = await import('../examples/init-plugin.js');
    const { getPeftModel, LoraConfig, registeredInitStrategies } = await import('@lorakit/lora');
    registerScaledNormal();
    expect(registeredInitStrategies()).toContain('scaled-normal');
    expect(() => registerScaledNormal()).toThrow(
      /\[registerInitStrategy\] an init strategy named "scaled-normal" is already registered; registered: .*scaled-normal/,
    );
    const { inputIds } = shiftBatch(2);
    const base = logitsOf(await loadModel(at('my-model')), inputIds);
    const peft = getPeftModel(
      await loadModel(at('my-model')),
      new LoraConfig({ targetModules: ['q_proj'], initLoraWeights: 'scaled-normal' }),
    );
    peft.eval();
    const a = peft.namedParameters().find(([name]) => name.endsWith('q_proj.lora_A.default.weight'))![1];
    const values = Array.from(a.toArray() as Float32Array);
    const std = Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
    expect(std).toBeGreaterThan(0.007);
    expect(std).toBeLessThan(0.013);
    expect(logitsOf(peft, inputIds)).toEqual(base);
  });

  it('merge-plugin.ts: mean_cat equals half of both adapters active at once', async () => {
    await import('@lorakit/merge-strategies'); // 'cat', the reference
    const { registerMeanCat } = await import('../examples/merge-plugin.js');
    registerMeanCat();
    await makeTwoAdapters(workspace.dir);
    const { loadAdapter: load } = await import('@lorakit/lora');
    const peft = load(await loadModel(at('my-model')), at('adapter-a'), { adapterName: 'a' });
    load(peft, at('adapter-b'), { adapterName: 'b' });
    peft.addWeightedAdapter(['a', 'b'], [1, 1], 'mean', 'mean_cat');
    peft.addWeightedAdapter(['a', 'b'], [0.5, 0.5], 'half', 'cat');
    peft.eval();
    const { inputIds } = shiftBatch(2);
    peft.setAdapter('mean');
    const mean = logitsOf(peft, inputIds);
    peft.setAdapter('half');
    const half = logitsOf(peft, inputIds);
    expect(Math.max(...mean.map((value, i) => Math.abs(value - half[i]!)))).toBeLessThan(1e-5);
    expect(peft.peftConfig.get('mean')?.r).toBe(16);
  });
});
