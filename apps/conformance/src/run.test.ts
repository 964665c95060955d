import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeSafetensors } from '@lorakit/safetensors';
import { readTensorFile, writeTensorFile } from '@lorakit/tensor';
import { peftFixturesDir, repoRoot } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerAllKinds } from './kinds/index.js';
import { formatResults } from './report.js';
import { runAll, runCase } from './run.js';

beforeAll(async () => {
  await registerAllKinds();
});

describe('the runner itself', () => {
  it('reports a wrong expected value as a failure with the max error, unknown kinds as pending, bad case.json as error', async () => {
    const root = mkdtempSync(join(tmpdir(), 'lorakit-conformance-'));
    // A copy of custom_layers whose expected base.lin output is off by 0.5 in one element.
    const broken = join(root, 'broken_layers');
    cpSync(join(peftFixturesDir(), 'custom_layers'), broken, { recursive: true });
    const { SafetensorsFile } = await import('@lorakit/safetensors');
    const io = SafetensorsFile.open(join(broken, 'io.safetensors'));
    const entries = io.tensors.map((t) => ({
      name: t.name,
      dtype: t.dtype,
      shape: t.shape,
      data: (() => {
        const data = io.readSync(t.name, { raw: true }).data as Float32Array;
        if (t.name === 'base.lin') data[3] = data[3]! + 0.5;
        return data;
      })(),
    }));
    io.close();
    await writeSafetensors(join(broken, 'io.safetensors'), entries);
    const unknown = join(root, 'unknown_kind');
    cpSync(join(peftFixturesDir(), 'llama_qv'), unknown, { recursive: true });
    writeFileSync(join(unknown, 'case.json'), JSON.stringify({ kind: 'telepathy' }));
    const bad = join(root, 'bad_json');
    cpSync(join(peftFixturesDir(), 'llama_qv'), bad, { recursive: true });
    writeFileSync(join(bad, 'case.json'), '{ nope');

    const results = await runAll([root]);
    const byName = new Map(results.map((r) => [r.name, r]));
    const failing = byName.get('broken_layers')!;
    expect(failing.status).toBe('fail');
    const check = failing.checks.find((c) => c.name === 'base.lin')!;
    expect(check.ok).toBe(false);
    expect(check.error).toBeCloseTo(0.5, 5);
    expect(failing.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['base.lin']);
    expect(byName.get('unknown_kind')).toMatchObject({
      status: 'pending',
      reason: 'kind "telepathy" is not supported by this runner',
    });
    expect(byName.get('bad_json')!.status).toBe('error');
    expect(formatResults(results)).toContain('3 cases: 0 passed, 1 failed, 1 errored, 1 pending');
  });

  it('runs one case directory directly', async () => {
    const result = await runCase(join(peftFixturesDir(), 'custom_layers'));
    expect(result!.status).toBe('pass');
    expect(result!.checks.length).toBe(28);
  });
});

describe('merge cases', () => {
  it('pass on the fixture and fail on a wrong merged tensor, a wrong rank or DARE values no keep-mask explains', async () => {
    const passing = await runCase(join(peftFixturesDir(), 'merges'));
    expect(passing!.status).toBe('pass');
    expect(passing!.checks.map((c) => c.name)).toContain("dare_ties (PEFT's tensors) zero rate");

    const dir = mkdtempSync(join(tmpdir(), 'conformance-merge-'));
    cpSync(join(peftFixturesDir(), 'merges'), dir, { recursive: true });
    const io = readTensorFile(join(dir, 'io.safetensors'));
    const q = 'model.layers.0.self_attn.q_proj';
    io.set(`ties.${q}.delta`, io.get(`ties.${q}.delta`)!.mul(1.01));
    io.set(`dare_linear.${q}.lora_A`, io.get(`dare_linear.${q}.lora_A`)!.mul(1.1));
    await writeTensorFile(join(dir, 'io.safetensors'), io);
    const spec = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    spec.merges.cat.r = 8;
    writeFileSync(join(dir, 'case.json'), JSON.stringify(spec));
    const failing = await runCase(dir);
    expect(failing!.status).toBe('fail');
    const failed = failing!.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual([
      'cat r',
      'ties.delta (6 modules)',
      "dare_linear (PEFT's tensors) entries explained by a keep-mask",
    ]);
    expect(failing!.checks.find((c) => c.name === 'cat r')!.note).toBe('10 vs expected 8');
  });
});

describe('fixture copy', () => {
  const shared = join(repoRoot, '..', 'shared', 'fixtures', 'peft');
  const vendored = join(repoRoot, 'fixtures', 'peft');
  const files = (root: string, dir = root): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = join(dir, name);
      return statSync(full).isDirectory() ? files(root, full) : [relative(root, full)];
    });
  it.skipIf(!existsSync(shared))(
    `fixtures/peft is identical to ../shared/fixtures/peft${existsSync(shared) ? '' : ' (skipped: ../shared is not beside this checkout)'}`,
    () => {
      const theirs = files(shared).sort();
      expect(files(vendored).sort()).toEqual(theirs);
      for (const f of theirs)
        expect(readFileSync(join(vendored, f)).equals(readFileSync(join(shared, f))), f).toBe(true);
    },
  );
});
