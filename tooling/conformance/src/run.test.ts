import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeSafetensors } from '@lorakit/safetensors';
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
