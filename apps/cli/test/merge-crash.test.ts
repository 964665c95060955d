import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  interruptedBackup,
  SafetensorsFile,
  ShardedSafetensors,
  type TensorEntry,
  writeSafetensors,
} from '@lorakit/safetensors';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliPath, lorakit, temporaryDirectory } from './run-cli.js';

const fixtures = peftFixturesDir();
const base = join(fixtures, 'llama_qv', 'base');
const adapterA = join(fixtures, 'llama_qv', 'adapter');

/** mulberry32: a small seeded generator, so the kill points are the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * What a checkpoint folder holds, independent of the random save id: per shard its tensors' bytes, the
 * index's weight map, the other files' bytes. Reading every tensor through the index also proves that
 * the shards belong to one save (the reader refuses a shard of another).
 */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const file of readdirSync(dir)
    .filter((f) => !f.startsWith('.'))
    .sort()) {
    const path = join(dir, file);
    if (file.endsWith('.safetensors')) {
      const st = SafetensorsFile.open(path);
      const hash = createHash('sha256');
      for (const name of st.names()) hash.update(name).update(st.readBytesSync(name));
      st.close();
      out.set(file, hash.digest('hex'));
    } else if (file === 'model.safetensors.index.json') {
      out.set(file, JSON.stringify(JSON.parse(readFileSync(path, 'utf8')).weight_map));
      const sharded = ShardedSafetensors.open(path);
      for (const name of sharded.names()) sharded.readBytesSync(name);
      sharded.close();
    } else out.set(file, readFileSync(path, 'utf8'));
  }
  return out;
}

function same(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([f, v]) => b.get(f) === v);
}

/** Runs `lorakit merge` and kills it with SIGKILL after `delay` ms (or lets it finish first). */
function mergeKilledAfter(adapter: string, out: string, delay: number): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [cliPath, 'merge', '--model', base, '--adapter', adapter, '--out', out, '--max-shard-size', '20KB'],
      { env: { ...process.env, LORAKIT_BACKEND: 'js' }, stdio: 'ignore' },
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), delay);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

describe('kill -9 during a sharded merge into an existing checkpoint', () => {
  let dir: string;
  let adapterB: string;
  let oldSet: Map<string, string>;
  let newSet: Map<string, string>;
  beforeAll(async () => {
    dir = temporaryDirectory('lorakit-merge-crash-');
    // A second adapter with other lora_B values gives a different merged checkpoint.
    adapterB = join(dir, 'adapter-b');
    mkdirSync(adapterB);
    cpSync(join(adapterA, 'adapter_config.json'), join(adapterB, 'adapter_config.json'));
    const file = SafetensorsFile.open(join(adapterA, 'adapter_model.safetensors'));
    const entries: TensorEntry[] = file.tensors.map((t) => ({
      ...t,
      data: (file.readSync(t.name).data as Float32Array).map((v) =>
        t.name.includes('lora_B') ? v * 3 + 0.01 : v,
      ),
    }));
    file.close();
    await writeSafetensors(join(adapterB, 'adapter_model.safetensors'), entries);
    for (const [adapter, name] of [
      [adapterA, 'old'],
      [adapterB, 'new'],
    ] as const) {
      const run = lorakit([
        'merge',
        '--model',
        base,
        '--adapter',
        adapter,
        '--out',
        join(dir, name),
        '--max-shard-size',
        '20KB',
      ]);
      expect(run.code, run.stderr).toBe(0);
    }
    oldSet = snapshot(join(dir, 'old'));
    newSet = snapshot(join(dir, 'new'));
    expect(
      [...oldSet.keys()].filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length,
    ).toBeGreaterThan(2);
    expect(same(oldSet, newSet)).toBe(false);
  });

  it('leaves the old checkpoint or the new one, never a mix (seeded kill points)', async () => {
    const next = random(20261207);
    const outcomes = { old: 0, new: 0, restoredBackup: 0 };
    const out = join(dir, 'out');
    for (let trial = 0; trial < 10; trial++) {
      rmSync(out, { recursive: true, force: true });
      cpSync(join(dir, 'old'), out, { recursive: true });
      // Node starts in ~150-300 ms here and the merge takes a few hundred more: kill anywhere in it.
      await mergeKilledAfter(adapterB, out, 100 + Math.floor(next() * 900));
      if (!existsSync(out)) {
        // Killed between the two renames: the previous version is intact under its backup name.
        const backup = interruptedBackup(out);
        expect(backup, `trial ${trial}: --out vanished without a backup`).toBeDefined();
        expect(same(snapshot(backup!), oldSet), `trial ${trial}: backup`).toBe(true);
        outcomes.restoredBackup++;
        rmSync(backup!, { recursive: true });
        continue;
      }
      const now = snapshot(out);
      const isOld = same(now, oldSet);
      const isNew = same(now, newSet);
      expect(isOld || isNew, `trial ${trial}: a mix of ${[...now.keys()].join(', ')}`).toBe(true);
      outcomes[isOld ? 'old' : 'new']++;
      // The next merge into the same place cleans up what the killed one left beside it.
      const finished = lorakit([
        'merge',
        '--model',
        base,
        '--adapter',
        adapterB,
        '--out',
        out,
        '--max-shard-size',
        '20KB',
      ]);
      expect(finished.code, finished.stderr).toBe(0);
      expect(same(snapshot(out), newSet)).toBe(true);
      expect(readdirSync(dir).filter((f) => f.startsWith('.out.'))).toEqual([]);
    }
    console.log(`merge kill trials: ${JSON.stringify(outcomes)}`);
    expect(outcomes.old + outcomes.new + outcomes.restoredBackup).toBe(10);
  }, 120_000);
});
