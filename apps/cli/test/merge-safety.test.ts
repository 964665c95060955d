import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, type TensorEntry, writeSafetensors } from '@lorakit/safetensors';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { lorakit, temporaryDirectory } from './run-cli.js';

const fixtures = peftFixturesDir();
const base = join(fixtures, 'llama_qv', 'base');
const original = join(fixtures, 'llama_qv', 'adapter');
const P = 'base_model.model.model.layers';

/** A copy of the llama_qv adapter with its tensors edited by `edit`. */
async function adapterVariant(
  dir: string,
  name: string,
  edit: (entries: TensorEntry[]) => TensorEntry[],
): Promise<string> {
  const out = join(dir, name);
  mkdirSync(out);
  copyFileSync(join(original, 'adapter_config.json'), join(out, 'adapter_config.json'));
  const file = SafetensorsFile.open(join(original, 'adapter_model.safetensors'));
  const entries: TensorEntry[] = file.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: file.readSync(t.name).data,
  }));
  file.close();
  await writeSafetensors(join(out, 'adapter_model.safetensors'), edit(entries));
  return out;
}

const merge = (adapter: string, out: string, ...extra: string[]) =>
  lorakit(['merge', '--model', base, '--adapter', adapter, '--out', out, ...extra]);

describe('lorakit merge (streaming) refuses what loadAdapter refuses, before writing anything', () => {
  let dir: string;
  beforeAll(() => {
    dir = temporaryDirectory('lorakit-merge-safety-');
  });

  it('a module whose lora_A is missing, also with --safe', async () => {
    const adapter = await adapterVariant(dir, 'no-a', (e) =>
      e.filter((t) => t.name !== `${P}.1.self_attn.v_proj.lora_A.weight`),
    );
    for (const flags of [[], ['--safe']]) {
      const run = merge(adapter, join(dir, 'out-no-a'), ...flags);
      expect(run.code).toBe(2);
      expect(run.stderr.trim()).toBe(
        `lorakit: error: adapter ${adapter} does not fit the model in ${base}: ${join(adapter, 'adapter_model.safetensors')} does not fit the model: missing keys: ${P}.1.self_attn.v_proj.lora_A.weight`,
      );
      expect(existsSync(join(dir, 'out-no-a'))).toBe(false);
    }
  });

  it('an adapter file with no tensors', async () => {
    const adapter = await adapterVariant(dir, 'empty', () => []);
    const run = merge(adapter, join(dir, 'out-empty'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('does not fit the model: the file has no tensors; missing keys: ');
    expect(existsSync(join(dir, 'out-empty'))).toBe(false);
  });

  it('an unexpected k_proj key is reported as unexpected, not as a target that was not found', async () => {
    const adapter = await adapterVariant(dir, 'k-proj', (e) => [
      ...e,
      {
        name: `${P}.0.self_attn.k_proj.lora_A.weight`,
        dtype: 'F32',
        shape: [8, 32],
        data: new Float32Array(256),
      },
    ]);
    const run = merge(adapter, join(dir, 'out-k'));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`unexpected keys: ${P}.0.self_attn.k_proj.lora_A.weight`);
    expect(run.stderr).not.toContain('not found');
  });

  it('a misshapen factor names the tensor and the file', async () => {
    const adapter = await adapterVariant(dir, 'shape', (e) =>
      e.map((t) =>
        t.name === `${P}.0.self_attn.q_proj.lora_B.weight`
          ? { ...t, shape: [16, 8], data: new Float32Array(128) }
          : t,
      ),
    );
    const run = merge(adapter, join(dir, 'out-shape'));
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: adapter ${adapter} does not fit the model in ${base}: ${join(adapter, 'adapter_model.safetensors')} does not fit the model: shape mismatches: ${P}.0.self_attn.q_proj.lora_B.weight: file [16, 8] vs model [32, 8]`,
    );
  });

  it('--safe with NaN in layer 1: names the tensor, leaves an existing --out as it was and no empty folder', async () => {
    const adapter = await adapterVariant(dir, 'nan', (e) =>
      e.map((t) =>
        t.name === `${P}.1.self_attn.q_proj.lora_B.weight`
          ? { ...t, data: new Float32Array(256).fill(Number.NaN) }
          : t,
      ),
    );
    const fresh = merge(adapter, join(dir, 'out-nan'), '--safe');
    expect(fresh.code).toBe(2);
    expect(fresh.stderr.trim()).toBe(
      `lorakit: error: merging tensor model.layers.1.self_attn.q_proj.weight of ${base} with ${join(adapter, 'adapter_model.safetensors')} failed: [lora] NaNs detected in the merged weights of model.layers.1.self_attn.q_proj. The adapter default seems to be broken; nothing was merged`,
    );
    expect(existsSync(join(dir, 'out-nan'))).toBe(false);

    const existing = join(dir, 'existing');
    expect(merge(original, existing).code).toBe(0);
    writeFileSync(join(existing, 'README.md'), 'keep me');
    const before = readFileSync(join(existing, 'model.safetensors'));
    expect(merge(adapter, existing, '--safe').code).toBe(2);
    expect(readFileSync(join(existing, 'model.safetensors')).equals(before)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('--out under /proc fails at once with a clear error', () => {
    const started = Date.now();
    const run = merge(original, '/proc/lorakit-merge/out');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^lorakit: error: \[merge --out\] cannot write \/proc\/lorakit-merge\/out: cannot create the folder \/proc\/lorakit-merge \(/,
    );
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('a merge into a folder with other files keeps them and replaces the checkpoint as a whole', () => {
    const out = join(dir, 'sharded');
    expect(merge(original, out, '--max-shard-size', '30KB').code).toBe(0);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expect(merge(original, out).code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'notes.txt',
    ]);
  });
});
