import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafetensorsWriteError } from './errors.js';
import { SafetensorsFile } from './reader.js';
import { type TensorEntry, writeSafetensors } from './writer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'st-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const w: TensorEntry = { name: 'w', dtype: 'F32', shape: [1], data: new Float32Array([1]) };

describe('writer errors name what is wrong', () => {
  it('a null entry', async () => {
    const entries = [w, null] as unknown as TensorEntry[];
    await expect(writeSafetensors(join(dir, 'a.safetensors'), entries)).rejects.toThrow(
      new SafetensorsWriteError(
        '[safetensors.write] tensor 1 must be an object { name, dtype, shape, data }, received null',
      ),
    );
  });

  it('metadata that is a string, not an object', async () => {
    const metadata = 'x' as unknown as Record<string, string>;
    await expect(writeSafetensors(join(dir, 'a.safetensors'), [w], { metadata })).rejects.toThrow(
      '[safetensors.write] metadata must be an object of string values, received "x"',
    );
  });

  it('a missing folder names the folder, not a temporary file', async () => {
    const missing = join(dir, 'no', 'such');
    await expect(writeSafetensors(join(missing, 'a.safetensors'), [w])).rejects.toThrow(
      `[safetensors.write] cannot write ${join(missing, 'a.safetensors')}: the folder ${missing} does not exist`,
    );
  });

  it('NaN in a shape is shown as NaN', async () => {
    const entry = { ...w, shape: [Number.NaN] };
    await expect(writeSafetensors(join(dir, 'a.safetensors'), [entry])).rejects.toThrow(
      '[safetensors.write] tensor "w" has shape [NaN]; expected an array of non-negative integers',
    );
  });

  it('a shape too large to address', async () => {
    const entry = { ...w, shape: [2 ** 30, 2 ** 30, 2 ** 10] };
    await expect(writeSafetensors(join(dir, 'a.safetensors'), [entry])).rejects.toThrow(
      '[safetensors.write] tensor "w" has shape [1073741824, 1073741824, 1024], more than 9007199254740991 bytes',
    );
  });
});

describe('temporary files of killed writes', () => {
  it('are removed by the next write to the same path; others are left alone', async () => {
    // pid 2^22 + 7 is above Linux's default pid_max, so no such process runs.
    const dead = 4194311;
    const stale = join(dir, `.a.safetensors.tmp-${dead}-abc123`);
    const otherTarget = join(dir, `.b.safetensors.tmp-${dead}-abc123`);
    const live = join(dir, `.a.safetensors.tmp-${process.pid}-zzz`);
    const foreign = join(dir, '.a.safetensors.tmp-notours');
    for (const p of [stale, otherTarget, live, foreign]) writeFileSync(p, 'x');
    await writeSafetensors(join(dir, 'a.safetensors'), [w]);
    expect(existsSync(stale)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(
      [
        'a.safetensors',
        `.b.safetensors.tmp-${dead}-abc123`,
        `.a.safetensors.tmp-${process.pid}-zzz`,
        '.a.safetensors.tmp-notours',
      ].sort(),
    );
    expect(SafetensorsFile.open(join(dir, 'a.safetensors')).names()).toEqual(['w']);
  });
});
