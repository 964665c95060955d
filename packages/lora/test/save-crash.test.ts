import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { interruptedBackup, SafetensorsFile } from '@lorakit/safetensors';
import { afterAll, describe, expect, it } from 'vitest';
import { readAdapterConfig } from '../src/index.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = mkdtempSync(join(tmpdir(), 'lorakit-save-crash-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** mulberry32: seeded, so the kill points are the same on every run. */
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

/** Starts the saving child; resolves once it has saved at least once, then kills it after `delay` ms. */
function saveKilledAfter(dir: string, delay: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@lorakit/source', '--import', 'tsx', join('test', 'save-child.ts'), dir],
      { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.once('data', () => {
      // Wait for a first complete save, then kill at the seeded moment.
      const poll = setInterval(() => {
        if (existsSync(join(dir, 'adapter_config.json'))) {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGKILL'), delay);
        }
      }, 5);
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`the saving child exited with ${code}: ${stderr}`));
    });
  });
}

/** The version a folder holds: config rank and weights must agree (rank 4 ↔ 1.0, rank 8 ↔ 2.0). */
function versionOf(dir: string): number {
  const config = readAdapterConfig(dir);
  const file = SafetensorsFile.open(join(dir, 'adapter_model.safetensors'));
  try {
    expect(file.names()).toHaveLength(4);
    for (const name of file.names()) {
      const { shape, data } = file.readSync(name);
      expect(shape.includes(config.r), `${name} has shape [${shape.join(', ')}] but r is ${config.r}`).toBe(
        true,
      );
      const expected = config.r === 4 ? 1 : 2;
      expect(
        (data as Float32Array).every((v) => v === expected),
        `${name} values`,
      ).toBe(true);
    }
  } finally {
    file.close();
  }
  return config.r;
}

describe('kill -9 during saveAdapter', () => {
  it('leaves the previous adapter or the new one whole, never a config of one beside weights of the other', async () => {
    const next = random(7);
    const seen: Record<string, number> = {};
    for (let trial = 0; trial < 5; trial++) {
      const dir = join(root, `adapter-${trial}`);
      await saveKilledAfter(dir, Math.floor(next() * 400));
      let holder = dir;
      if (!existsSync(dir)) holder = interruptedBackup(dir)!;
      const key = `r${versionOf(holder)}${holder === dir ? '' : ' (backup)'}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    console.log(`save kill trials: ${JSON.stringify(seen)}`);
    // Whatever the killed saves left beside the folders is theirs to clean up on the next save.
    expect(readdirSync(root).every((f) => f.startsWith('adapter-') || f.startsWith('.adapter-'))).toBe(true);
  }, 60_000);
});
