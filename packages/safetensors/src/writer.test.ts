import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsWriteError } from './errors.js';
import { SafetensorsFile } from './reader.js';
import { serializeSafetensors, writeSafetensors } from './writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'lorakit-st-write-'));

describe('writeSafetensors', () => {
  it('lays out by dtype rank then name, pads the header to 8 bytes', async () => {
    const bytes = await serializeSafetensors([
      { name: 'z', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
      { name: 'ids', dtype: 'I64', shape: [1], data: new BigInt64Array([7n]) },
      { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([2]) },
      { name: 'h', dtype: 'F16', shape: [1], data: new Float32Array([1]) },
    ]);
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + length));
    expect(header.trimEnd()).toBe(
      '{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"z":{"dtype":"F32","shape":[1],"data_offsets":[12,16]},"h":{"dtype":"F16","shape":[1],"data_offsets":[16,18]}}',
    );
  });

  it('keeps integer-like names in layout order (no JS object reordering)', async () => {
    const bytes = await serializeSafetensors([
      { name: 'b', dtype: 'U8', shape: [1], data: new Uint8Array([1]) },
      { name: '10', dtype: 'U8', shape: [1], data: new Uint8Array([2]) },
      { name: '2', dtype: 'U8', shape: [1], data: new Uint8Array([3]) },
    ]);
    expect(SafetensorsFile.fromBytes(bytes).names()).toEqual(['10', '2', 'b']);
  });

  it('streams lazily: each producer runs once, in layout order', async () => {
    const calls: string[] = [];
    const path = join(tmp, 'lazy.safetensors');
    await writeSafetensors(
      path,
      ['c', 'a', 'b'].map((name) => ({
        name,
        dtype: 'F32' as const,
        shape: [2],
        data: () => {
          calls.push(name);
          return new Float32Array([name.charCodeAt(0), 0]);
        },
      })),
    );
    expect(calls).toEqual(['a', 'b', 'c']);
    expect(Array.from(SafetensorsFile.open(path).readSync('c').data as Float32Array)).toEqual([99, 0]);
  });

  it('a failed write leaves the previous file intact and no temporary file', async () => {
    const dir = mkdtempSync(join(tmp, 'atomic-'));
    const path = join(dir, 'adapter_model.safetensors');
    writeFileSync(path, 'previous');
    await expect(
      writeSafetensors(path, [
        { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
        {
          name: 'b',
          dtype: 'F32',
          shape: [1],
          data: () => {
            throw new Error('disk on fire');
          },
        },
      ]),
    ).rejects.toThrow('disk on fire');
    expect(readFileSync(path, 'utf8')).toBe('previous');
    expect(readdirSync(dir)).toEqual(['adapter_model.safetensors']);
  });

  it('rejects data that does not match the dtype or shape', async () => {
    await expect(
      serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]),
    ).rejects.toThrow(
      '[safetensors.write] tensor "w" has shape [2, 2] (4 elements) but its data has 3 elements',
    );
    await expect(
      serializeSafetensors([{ name: 'w', dtype: 'I32', shape: [1], data: new Float32Array(1) }]),
    ).rejects.toThrow(
      '[safetensors.write] tensor "w" is I32 but its data is a Float32Array; expected Int32Array',
    );
    await expect(
      serializeSafetensors([
        { name: 'w', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
        { name: 'w', dtype: 'U8', shape: [1], data: new Uint8Array(1) },
      ]),
    ).rejects.toThrow('[safetensors.write] tensor "w" is given twice');
    await expect(
      serializeSafetensors([{ name: 'w', dtype: 'F7' as never, shape: [1], data: new Uint8Array(1) }]),
    ).rejects.toThrow(SafetensorsWriteError);
    await expect(
      serializeSafetensors([{ name: 'w', dtype: 'F32', shape: [1], data: () => new Float32Array(2) }]),
    ).rejects.toThrow(
      '[safetensors.write] tensor "w" has shape [1] (1 elements) but its data has 2 elements',
    );
  });

  it('converts float arrays to narrow dtypes and int32 to int64', async () => {
    const file = SafetensorsFile.fromBytes(
      await serializeSafetensors([
        { name: 'h', dtype: 'F16', shape: [2], data: new Float32Array([0.5, -3]) },
        { name: 'b', dtype: 'BF16', shape: [2], data: new Float64Array([0.5, -3]) },
        { name: 'i', dtype: 'I64', shape: [2], data: new Int32Array([-5, 9]) },
      ]),
    );
    expect(Array.from(file.readSync('h').data as Float32Array)).toEqual([0.5, -3]);
    expect(Array.from(file.readSync('b').data as Float32Array)).toEqual([0.5, -3]);
    expect(Array.from(file.readSync('i').data as BigInt64Array)).toEqual([-5n, 9n]);
    expect(existsSync(tmp)).toBe(true);
  });
});
