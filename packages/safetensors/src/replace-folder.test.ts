import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SafetensorsFormatError, SafetensorsWriteError } from './errors.js';
import { interruptedBackup, replaceFolder } from './replace-folder.js';
import { SAVE_ID_KEY, ShardedSafetensors } from './sharded.js';
import { writeShardedSafetensors } from './sharded-writer.js';
import { writeSafetensors } from './writer.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'st-replace-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const owns = (p: string) => p === 'a.txt' || p === 'b.txt' || p === 'sub/a.txt';
const DEAD = 4194311;

describe('replaceFolder', () => {
  it('creates missing parents and the folder', async () => {
    const dir = join(root, 'x', 'y', 'out');
    await replaceFolder(dir, (s) => writeFileSync(join(s, 'a.txt'), 'new'), { owns });
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('new');
    expect(readdirSync(join(root, 'x', 'y'))).toEqual(['out']);
  });

  it('replaces the owned set, drops owned files not rewritten, carries the rest over', async () => {
    const dir = join(root, 'out');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'old');
    writeFileSync(join(dir, 'b.txt'), 'old b');
    writeFileSync(join(dir, 'README.md'), 'mine');
    writeFileSync(join(dir, 'sub', 'a.txt'), 'old sub');
    writeFileSync(join(dir, 'sub', 'notes'), 'keep');
    await replaceFolder(
      dir,
      (s) => {
        writeFileSync(join(s, 'a.txt'), 'new');
        mkdirSync(join(s, 'sub'));
        writeFileSync(join(s, 'sub', 'a.txt'), 'new sub');
      },
      { owns },
    );
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'a.txt', 'sub']);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('new');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toBe('mine');
    expect(readFileSync(join(dir, 'sub', 'a.txt'), 'utf8')).toBe('new sub');
    expect(readFileSync(join(dir, 'sub', 'notes'), 'utf8')).toBe('keep');
    expect(readdirSync(root)).toEqual(['out']);
  });

  it('leaves the old folder untouched and no temporary folder when produce fails', async () => {
    const dir = join(root, 'out');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.txt'), 'old');
    await expect(
      replaceFolder(
        dir,
        (s) => {
          writeFileSync(join(s, 'a.txt'), 'half');
          throw new Error('disk on fire');
        },
        { owns },
      ),
    ).rejects.toThrow('disk on fire');
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('old');
    expect(readdirSync(root)).toEqual(['out']);
  });

  it('removes stale temporary folders and restores a backup left between the two renames', async () => {
    const dir = join(root, 'out');
    const backup = join(root, `.out.lorakit-old-${DEAD}-abc`);
    const staging = join(root, `.out.lorakit-new-${DEAD}-def`);
    mkdirSync(backup);
    writeFileSync(join(backup, 'a.txt'), 'old');
    writeFileSync(join(backup, 'README.md'), 'mine');
    mkdirSync(staging);
    writeFileSync(join(staging, 'a.txt'), 'new but unfinished');
    expect(interruptedBackup(dir)).toBe(backup);
    await replaceFolder(dir, (s) => writeFileSync(join(s, 'a.txt'), 'new'), { owns });
    expect(readdirSync(root)).toEqual(['out']);
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'a.txt']);
    expect(interruptedBackup(dir)).toBeUndefined();
  });

  it('refuses to replace the current working folder', async () => {
    await expect(replaceFolder('.', () => {}, { owns })).rejects.toThrow(
      '[safetensors.write] cannot write .: it is (or holds) the current working folder, which a swap would delete under this process; write into a subfolder',
    );
  });

  it('fails fast with a clear error where a folder cannot be created', async () => {
    await expect(replaceFolder('/proc/lorakit-test/out', () => {}, { owns })).rejects.toThrow(
      SafetensorsWriteError,
    );
    await expect(
      replaceFolder('/proc/lorakit-test/out', () => {}, { owns, operation: 'merge' }),
    ).rejects.toThrow(
      /^\[merge\] cannot write \/proc\/lorakit-test\/out: cannot create the folder \/proc\/lorakit-test \(/,
    );
    writeFileSync(join(root, 'file'), 'x');
    await expect(replaceFolder(join(root, 'file', 'out'), () => {}, { owns })).rejects.toThrow(
      `[safetensors.write] cannot write ${join(root, 'file', 'out')}: ${join(root, 'file')} is a file, not a folder`,
    );
  });
});

describe('sharded checkpoints refuse shards of another save', () => {
  async function save(dir: string, id: string, value: number): Promise<void> {
    for (const [file, name] of [
      ['model-00001-of-00002.safetensors', 'a'],
      ['model-00002-of-00002.safetensors', 'b'],
    ] as const) {
      await writeSafetensors(
        join(dir, file),
        [{ name, dtype: 'F32', shape: [1], data: new Float32Array([value]) }],
        { metadata: { format: 'pt', [SAVE_ID_KEY]: id } },
      );
    }
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: { total_size: 8, [SAVE_ID_KEY]: id },
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    );
  }

  it('a shard whose save id differs from the index', async () => {
    const oldDir = join(root, 'old');
    const dir = join(root, 'new');
    mkdirSync(oldDir);
    mkdirSync(dir);
    await save(oldDir, 'old-id', 1);
    await save(dir, 'new-id', 2);
    writeFileSync(
      join(dir, 'model-00002-of-00002.safetensors'),
      readFileSync(join(oldDir, 'model-00002-of-00002.safetensors')),
    );
    const sharded = ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'));
    expect(sharded.readSync('a').data).toEqual(new Float32Array([2]));
    expect(() => sharded.readSync('b')).toThrow(
      new SafetensorsFormatError(
        `[safetensors] model-00002-of-00002.safetensors is from another save than ${join(dir, 'model.safetensors.index.json')} (lorakit_save_id "old-id" in the shard, "new-id" in the index): the checkpoint mixes files of two saves`,
      ),
    );
  });

  it('a shard holding tensors the index places in another shard', async () => {
    const dir = join(root, 'mixed');
    mkdirSync(dir);
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      { name: 'b', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
    ]);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    );
    const sharded = ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'));
    expect(() => sharded.readSync('a')).toThrow(
      `[safetensors] model-00001-of-00002.safetensors holds tensors that ${join(dir, 'model.safetensors.index.json')} does not place in it (b): the checkpoint mixes files of two saves`,
    );
  });
});

describe('writeShardedSafetensors', () => {
  const tensors = (value: number) =>
    ['a', 'b', 'c'].map((name) => ({
      name,
      dtype: 'F32' as const,
      shape: [4],
      data: new Float32Array(4).fill(value),
    }));

  it('writes one file when everything fits, shards with a shared save id otherwise', async () => {
    const single = join(root, 'single');
    mkdirSync(single);
    expect(await writeShardedSafetensors(single, tensors(1), { maxShardSize: 1000 })).toEqual({
      files: ['model.safetensors'],
      bytes: 48,
    });
    const dir = join(root, 'sharded');
    mkdirSync(dir);
    const written = await writeShardedSafetensors(dir, tensors(1), { maxShardSize: 32 });
    expect(written.files).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(Object.keys(index.metadata)).toEqual(['lorakit_save_id', 'total_parameters', 'total_size']);
    expect(index.weight_map).toEqual({
      a: 'model-00001-of-00002.safetensors',
      b: 'model-00001-of-00002.safetensors',
      c: 'model-00002-of-00002.safetensors',
    });
    const sharded = ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'));
    expect(sharded.readSync('c').data).toEqual(new Float32Array(4).fill(1));
    sharded.close();

    // The same layout from another save: every file valid, the set refused.
    const other = join(root, 'other');
    mkdirSync(other);
    await writeShardedSafetensors(other, tensors(2), { maxShardSize: 32 });
    writeFileSync(
      join(dir, 'model-00002-of-00002.safetensors'),
      readFileSync(join(other, 'model-00002-of-00002.safetensors')),
    );
    const mixed = ShardedSafetensors.open(join(dir, 'model.safetensors.index.json'));
    expect(mixed.readSync('a').data).toEqual(new Float32Array(4).fill(1));
    expect(() => mixed.readSync('c')).toThrow('the checkpoint mixes files of two saves');
  });
});
