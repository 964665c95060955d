import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_PREFIX, registerMergeStrategy, saveAdapter } from '@lorakit/lora';
import { readTensorFile, tensor, writeTensorFile } from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { combineAdapterFiles } from '../src/index.js';
import { addRandomAdapter, TinyNet } from './tiny-model.js';

let dir: string;
const src = (name: string) => join(dir, 'src', name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lorakit-combine-'));
  const peft = addRandomAdapter(
    new TinyNet(),
    'a',
    { r: 4, loraAlpha: 8, targetModules: ['lin', 'emb', 'conv'] },
    1,
  );
  addRandomAdapter(peft, 'b', { r: 4, loraAlpha: 16, targetModules: ['lin', 'other'] }, 2);
  addRandomAdapter(
    peft,
    'p',
    { r: 4, loraAlpha: 4, targetModules: ['lin', 'other'], rankPattern: { other: 2 } },
    3,
  );
  addRandomAdapter(peft, 'dora', { r: 4, targetModules: ['lin'], useDora: true }, 4);
  await saveAdapter(peft, join(dir, 'src'), { selectedAdapters: ['a', 'b', 'p', 'dora'] });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('combineAdapterFiles', () => {
  it('merges the union of modules, reports progress per module and writes only LoRA factors', async () => {
    const progress: string[] = [];
    const result = await combineAdapterFiles({
      adapters: [src('a'), src('b')],
      weights: [1, 1],
      type: 'cat',
      outDir: join(dir, 'union'),
      onProgress: ({ done, total, module }) => progress.push(`${done}/${total} ${module}`),
    });
    expect(result.modules).toEqual(['conv', 'emb', 'lin', 'other']);
    expect(progress).toEqual(['1/4 conv', '2/4 emb', '3/4 lin', '4/4 other']);
    const written = readTensorFile(join(dir, 'union', 'adapter_model.safetensors'));
    expect([...written.keys()].sort()).toEqual(
      [
        'conv.lora_A.weight',
        'conv.lora_B.weight',
        'emb.lora_embedding_A',
        'emb.lora_embedding_B',
        'lin.lora_A.weight',
        'lin.lora_B.weight',
        'other.lora_A.weight',
        'other.lora_B.weight',
      ].map((k) => `${KEY_PREFIX}${k}`),
    );
    // `other` exists only in b: its rows for a stay zero (rank 8 = 4 + 4).
    const otherA = written.get(`${KEY_PREFIX}other.lora_A.weight`)!;
    expect(otherA.shape).toEqual([8, 12]);
    expect(otherA.narrow(0, 4, 4).abs().max().item()).toBe(0);
    expect(readdirSync(join(dir, 'union')).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
  });

  it('pads modules of a smaller rank_pattern rank with zeros', async () => {
    await combineAdapterFiles({ adapters: [src('p')], weights: [0.5], outDir: join(dir, 'pattern') });
    const written = readTensorFile(join(dir, 'pattern', 'adapter_model.safetensors'));
    const b = written.get(`${KEY_PREFIX}other.lora_B.weight`)!;
    expect(b.shape).toEqual([10, 4]);
    expect(b.narrow(1, 2, 2).abs().max().item()).toBe(0);
    expect(b.narrow(1, 0, 2).abs().max().item()).toBeGreaterThan(0);
  });

  it('argument errors', async () => {
    const base = { adapters: [src('a'), src('b')], outDir: join(dir, 'x') };
    await expect(combineAdapterFiles({ ...base, weights: [1] })).rejects.toThrow(
      '[combineAdapterFiles] needs one weight per adapter: received 2 adapters and 1 weights',
    );
    await expect(combineAdapterFiles({ adapters: [], weights: [], outDir: join(dir, 'x') })).rejects.toThrow(
      '[combineAdapterFiles] needs at least one adapter directory',
    );
    await expect(combineAdapterFiles({ ...base, weights: [1, 1], outDir: src('a') })).rejects.toThrow(
      `[combineAdapterFiles] outDir ${src('a')} is one of the input adapters; write the merge elsewhere`,
    );
    await expect(combineAdapterFiles({ ...base, weights: [1, 1], type: 'mean' })).rejects.toThrow(
      '[addWeightedAdapter] Invalid combination_type: mean; registered combination types: linear, ties,',
    );
    await expect(
      combineAdapterFiles({
        ...base,
        adapters: [src('a'), src('p')],
        weights: [1, 1],
        type: 'ties',
        options: { density: 0.5 },
      }),
    ).resolves.toBeDefined();
    await expect(
      combineAdapterFiles({ ...base, adapters: [src('a'), join(dir, 'nowhere')], weights: [1, 1] }),
    ).rejects.toThrow(
      `[loadAdapter] ${join(dir, 'nowhere')} has no adapter_config.json (the directory does not exist)`,
    );
    expect(existsSync(join(dir, 'x', 'adapter_model.safetensors'))).toBe(true); // only the ties call wrote
  });

  it('refuses what needs the base model', async () => {
    await expect(
      combineAdapterFiles({ adapters: [src('a'), src('dora')], weights: [1, 1], outDir: join(dir, 'y') }),
    ).rejects.toThrow(
      `[combineAdapterFiles] ${src('dora')} uses use_dora (the merged magnitude vector is initialized from the base weight); merge it with addWeightedAdapter on a loaded model`,
    );
    // A file with a tensor that is not a LoRA factor (here a lora_B bias).
    const extra = join(dir, 'extra');
    mkdirSync(extra, { recursive: true });
    writeFileSync(join(extra, 'adapter_config.json'), readFileSync(join(src('b'), 'adapter_config.json')));
    const tensors = readTensorFile(join(src('b'), 'adapter_model.safetensors'));
    tensors.set(`${KEY_PREFIX}lin.lora_B.bias`, tensor(new Float32Array(12)));
    await writeTensorFile(join(extra, 'adapter_model.safetensors'), tensors);
    await expect(
      combineAdapterFiles({ adapters: [src('b'), extra], weights: [1, 1], outDir: join(dir, 'y') }),
    ).rejects.toThrow(
      `[combineAdapterFiles] ${extra} holds tensors that are not LoRA factors (${KEY_PREFIX}lin.lora_B.bias); add_weighted_adapter does not combine them and writing them needs the base model — use addWeightedAdapter on a loaded model`,
    );
  });

  it('refuses adapters whose modules disagree in shape, or whose file rank disagrees with the config', async () => {
    const other = join(dir, 'other-model');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'adapter_config.json'), readFileSync(join(src('b'), 'adapter_config.json')));
    const tensors = readTensorFile(join(src('b'), 'adapter_model.safetensors'));
    tensors.set(`${KEY_PREFIX}lin.lora_A.weight`, tensor(new Float32Array(4 * 20), { shape: [4, 20] }));
    await writeTensorFile(join(other, 'adapter_model.safetensors'), tensors);
    await expect(
      combineAdapterFiles({ adapters: [src('b'), other], weights: [1, 1], outDir: join(dir, 'z') }),
    ).rejects.toThrow(
      `[combineAdapterFiles] module lin differs between adapters: linear lora_A [4, 16] / lora_B [12, 4] vs ${other}: linear lora_A [4, 20] / lora_B [12, 4] (adapters of different base models?)`,
    );
    const liar = join(dir, 'liar');
    mkdirSync(liar, { recursive: true });
    writeFileSync(
      join(liar, 'adapter_config.json'),
      readFileSync(join(src('b'), 'adapter_config.json'), 'utf8').replace('"r": 4', '"r": 8'),
    );
    writeFileSync(
      join(liar, 'adapter_model.safetensors'),
      readFileSync(join(src('b'), 'adapter_model.safetensors')),
    );
    await expect(
      combineAdapterFiles({ adapters: [liar], weights: [1], outDir: join(dir, 'z') }),
    ).rejects.toThrow(
      `[combineAdapterFiles] ${liar}: module lin has rank 4 in adapter_model.safetensors but r=8 in adapter_config.json`,
    );
  });

  it('refuses adapters of different base models, task types or architectures', async () => {
    const copy = async (
      name: string,
      edit: (config: Record<string, unknown>) => void,
      rename = (k: string) => k,
    ) => {
      const out = join(dir, name);
      mkdirSync(out, { recursive: true });
      const config = JSON.parse(readFileSync(join(src('b'), 'adapter_config.json'), 'utf8'));
      edit(config);
      writeFileSync(join(out, 'adapter_config.json'), JSON.stringify(config));
      const tensors = readTensorFile(join(src('b'), 'adapter_model.safetensors'));
      await writeTensorFile(
        join(out, 'adapter_model.safetensors'),
        new Map([...tensors].map(([k, v]) => [rename(k), v])),
      );
      return out;
    };
    const llama = await copy('base-llama', (c) => (c.base_model_name_or_path = 'org/llama'));
    const qwen = await copy('base-qwen', (c) => (c.base_model_name_or_path = 'org/qwen'));
    const out = join(dir, 'mismatch');
    await expect(
      combineAdapterFiles({ adapters: [llama, qwen], weights: [1, 1], outDir: out }),
    ).rejects.toThrow(
      `[combineAdapterFiles] the adapters were trained on different base models: ${llama} has base_model_name_or_path "org/llama", ${qwen} has "org/qwen"; combine adapters of one base`,
    );
    const seqCls = await copy('task-cls', (c) => (c.task_type = 'SEQ_CLS'));
    const causal = await copy('task-lm', (c) => (c.task_type = 'CAUSAL_LM'));
    await expect(
      combineAdapterFiles({ adapters: [seqCls, causal], weights: [1, 1], outDir: out }),
    ).rejects.toThrow(
      `[combineAdapterFiles] the adapters have different task_type: ${seqCls} SEQ_CLS, ${causal} CAUSAL_LM; combine adapters of one base and task`,
    );
    const gpt = await copy(
      'arch-gpt',
      (c) => (c.target_modules = ['c_attn', 'c_proj']),
      (k) =>
        k
          .replace(`${KEY_PREFIX}lin.`, `${KEY_PREFIX}transformer.c_attn.`)
          .replace(`${KEY_PREFIX}other.`, `${KEY_PREFIX}transformer.c_proj.`),
    );
    await expect(
      combineAdapterFiles({ adapters: [src('b'), gpt], weights: [1, 1], outDir: out }),
    ).rejects.toThrow(
      `[combineAdapterFiles] ${src('b')} and ${gpt} share no module and their module paths start differently (lin, other vs transformer): adapters of different base models; combine adapters of one base`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('refuses targets that the combined config would not cover (different layers_to_transform)', async () => {
    const layer = async (index: number) => {
      const out = join(dir, `layer-${index}`);
      mkdirSync(out, { recursive: true });
      const config = JSON.parse(readFileSync(join(src('b'), 'adapter_config.json'), 'utf8'));
      config.layers_to_transform = [index];
      writeFileSync(join(out, 'adapter_config.json'), JSON.stringify(config));
      const tensors = readTensorFile(join(src('b'), 'adapter_model.safetensors'));
      await writeTensorFile(
        join(out, 'adapter_model.safetensors'),
        new Map(
          [...tensors].map(([k, v]) => [k.replace(KEY_PREFIX, `${KEY_PREFIX}model.layers.${index}.`), v]),
        ),
      );
      return out;
    };
    const [zero, one] = [await layer(0), await layer(1)];
    await expect(
      combineAdapterFiles({ adapters: [zero, one], weights: [1, 1], outDir: join(dir, 'layers') }),
    ).rejects.toThrow(
      `[combineAdapterFiles] module model.layers.1.lin of ${one} would not be a target of the combined adapter, whose target_modules ["lin","other"], layers_to_transform [0] and exclude_modules null come from ${zero}; no base model could load the result — combine adapters with the same layer selection`,
    );
    await expect(
      combineAdapterFiles({ adapters: [zero, zero], weights: [1, 1], outDir: join(dir, 'layers') }),
    ).resolves.toBeDefined();
  });

  it('is atomic: a failure mid-way leaves an earlier merge in outDir untouched and no temporary file', async () => {
    const out = join(dir, 'atomic');
    await combineAdapterFiles({ adapters: [src('a'), src('b')], weights: [1, 1], type: 'cat', outDir: out });
    const before = readFileSync(join(out, 'adapter_model.safetensors'));
    let calls = 0;
    registerMergeStrategy({
      name: 'test_fails_on_third_module',
      rank: 'sum',
      combine(context) {
        if (++calls === 3) throw new Error('boom');
        return { a: context.sources[0]!.a, b: context.sources[0]!.b };
      },
    });
    await expect(
      combineAdapterFiles({
        adapters: [src('a'), src('b')],
        weights: [1, 1],
        type: 'test_fails_on_third_module',
        outDir: out,
      }),
    ).rejects.toThrow('boom');
    expect(readFileSync(join(out, 'adapter_model.safetensors')).equals(before)).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('a strategy that reads the layer gets a clear error (no base model in file merges)', async () => {
    registerMergeStrategy({
      name: 'test_reads_layer',
      rank: 'svd',
      combine(context) {
        void context.layer;
        return { a: context.sources[0]!.a, b: context.sources[0]!.b };
      },
    });
    await expect(
      combineAdapterFiles({
        adapters: [src('a'), src('b')],
        weights: [1, 1],
        type: 'test_reads_layer',
        outDir: join(dir, 'w'),
      }),
    ).rejects.toThrow(
      '[combineAdapterFiles] combination type "test_reads_layer" reads the LoRA layer, which adapter-file merges do not have (no base model is loaded); use addWeightedAdapter',
    );
  });
});
