import { closeSync, ftruncateSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { SafetensorsRangeError, SafetensorsTensorNotFoundError } from './errors.js';
import { openTensorSource } from './open.js';
import { SafetensorsFile } from './reader.js';
import { ShardedSafetensors } from './sharded.js';
import { serializeSafetensors, writeSafetensors } from './writer.js';

const dataDir = join(import.meta.dirname, '..', 'test-data');
const tmp = mkdtempSync(join(tmpdir(), 'lorakit-st-read-'));

describe('SafetensorsFile', () => {
  it('lists tensors and metadata of a PEFT adapter without reading data', () => {
    const file = SafetensorsFile.open(
      join(peftFixturesDir(), 'llama_qv', 'adapter', 'adapter_model.safetensors'),
    );
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors).toHaveLength(8);
    const first = file.tensors[0]!;
    expect(first).toMatchObject({
      name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      dtype: 'F32',
      shape: [8, 32],
      dataOffsets: [0, 1024],
      byteLength: 1024,
    });
    expect(first.fileOffset).toBe(8 + file.header.headerLength);
    const { data, shape } = file.readSync(first.name);
    expect(shape).toEqual([8, 32]);
    expect(data).toBeInstanceOf(Float32Array);
    file.close();
  });

  it('decodes every dtype Python wrote to the values Python stored', async () => {
    const file = SafetensorsFile.open(join(dataDir, 'all-dtypes.safetensors'));
    const expected = JSON.parse(
      (await import('node:fs')).readFileSync(join(dataDir, 'all-dtypes.json'), 'utf8'),
    ) as Record<string, (number | string | null)[]>;
    const asNumber = (v: number | string | null) =>
      v === null ? Number.NaN : v === 'inf' ? Infinity : v === '-inf' ? -Infinity : Number(v);
    for (const name of file.names()) {
      const { data, dtype } = await file.read(name);
      const want = expected[name]!;
      if (dtype === 'I64' || dtype === 'U64') {
        expect(Array.from(data as BigInt64Array, String), name).toEqual(want.map(String));
      } else {
        expect(Array.from(data as Float32Array), name).toEqual(want.map(asNumber));
      }
    }
    file.close();
  });

  it('raw reads give the stored bit patterns', () => {
    const file = SafetensorsFile.open(join(dataDir, 'all-dtypes.safetensors'));
    expect(file.readSync('f16', { raw: true }).data).toBeInstanceOf(Uint16Array);
    expect(file.readSync('bf16', { raw: true }).data).toBeInstanceOf(Uint16Array);
    expect(file.readSync('f8_e4m3', { raw: true }).data).toBeInstanceOf(Uint8Array);
    expect(file.readSync('f16').data).toBeInstanceOf(Float32Array);
    file.close();
  });

  it('reads int64 as int32 with an overflow check', async () => {
    const bytes = await serializeSafetensors([
      { name: 'ok', dtype: 'I64', shape: [3], data: new BigInt64Array([1n, -2n, 2147483647n]) },
      { name: 'big', dtype: 'I64', shape: [2], data: new BigInt64Array([0n, 2147483648n]) },
    ]);
    const file = SafetensorsFile.fromBytes(bytes);
    expect(Array.from(file.readSync('ok', { int64: 'int32' }).data as Int32Array)).toEqual([
      1, -2, 2147483647,
    ]);
    expect(() => file.readSync('big', { int64: 'int32' })).toThrow(SafetensorsRangeError);
    expect(() => file.readSync('big', { int64: 'int32' })).toThrow(
      `[safetensors] tensor "big" element 1 is 2147483648, outside the int32 range [-2147483648, 2147483647]; read it with { int64: 'bigint' }`,
    );
  });

  it('copies unaligned data instead of failing', async () => {
    const bytes = await serializeSafetensors([
      { name: 'b', dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      { name: 'w', dtype: 'F32', shape: [2], data: new Float32Array([1.5, -2]) },
    ]);
    // Put the file at an odd offset in memory: every tensor view is then unaligned.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const file = SafetensorsFile.fromBytes(shifted.subarray(1));
    expect(Array.from(file.readSync('w').data as Float32Array)).toEqual([1.5, -2]);
  });

  it('names the tensors that exist when one is missing', () => {
    const file = SafetensorsFile.open(join(peftFixturesDir(), 'llama_qv', 'io.safetensors'));
    expect(() => file.info('logits')).toThrow(SafetensorsTensorNotFoundError);
    expect(() => file.info('logits')).toThrow(
      /no tensor "logits" in .*io\.safetensors; tensors in the file: input_ids, logits_adapter, logits_base, logits_disabled, logits_merged$/,
    );
    file.close();
  });

  it('reads a tensor that lies beyond 4 GiB with positioned reads (sparse file)', async () => {
    const big = 4.5 * 2 ** 30;
    const path = join(tmp, 'huge.safetensors');
    const header = {
      huge: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
      tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
    };
    const json = Buffer.from(JSON.stringify(header).padEnd(256, ' '));
    const fd = openSync(path, 'w');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, length, 0, 8, 0);
    writeSync(fd, json, 0, json.length, 8);
    ftruncateSync(fd, 8 + json.length + big + 8);
    writeSync(fd, Buffer.from(new Float32Array([3.25, -7]).buffer), 0, 8, 8 + json.length + big);
    closeSync(fd);
    const file = SafetensorsFile.open(path);
    expect(file.info('tail').fileOffset).toBe(8 + 256 + big);
    expect(Array.from((await file.read('tail')).data as Float32Array)).toEqual([3.25, -7]);
    expect(Array.from(file.readSync('tail').data as Float32Array)).toEqual([3.25, -7]);
    file.close();
  });
});

describe('ShardedSafetensors', () => {
  it('reads tensors across shards through the index', async () => {
    const dir = mkdtempSync(join(tmp, 'shards-'));
    await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) },
    ]);
    await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), [
      { name: 'b', dtype: 'BF16', shape: [1], data: new Float32Array([3]) },
    ]);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({
        metadata: { total_size: 10 },
        weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
      }),
    );
    const source = openTensorSource(dir);
    expect(source).toBeInstanceOf(ShardedSafetensors);
    expect(source.names()).toEqual(['a', 'b']);
    expect(Array.from(source.readSync('a').data as Float32Array)).toEqual([1, 2]);
    expect(Array.from((await source.read('b')).data as Float32Array)).toEqual([3]);
    expect(source.metadata).toEqual({ total_size: '10' });
    expect(() => source.info('c')).toThrow('[safetensors] no tensor "c" in');
    source.close();
  });

  it('rejects an index whose shard lacks a mapped tensor', async () => {
    const dir = mkdtempSync(join(tmp, 'shards-bad-'));
    await writeSafetensors(join(dir, 's1.safetensors'), [
      { name: 'a', dtype: 'F32', shape: [1], data: new Float32Array([1]) },
    ]);
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({ weight_map: { a: 's1.safetensors', z: 's1.safetensors' } }),
    );
    const source = ShardedSafetensors.open(join(dir, 'index.json'));
    expect(() => source.readSync('z')).toThrow(
      /maps "z" to s1\.safetensors, but that shard has no such tensor; it holds: a$/,
    );
    writeFileSync(join(dir, 'escape.json'), JSON.stringify({ weight_map: { a: '../s1.safetensors' } }));
    expect(() => ShardedSafetensors.open(join(dir, 'escape.json'))).toThrow(
      /maps "a" to "\.\.\/s1\.safetensors"; shard names must be plain file names/,
    );
    writeFileSync(join(dir, 'nomap.json'), JSON.stringify({ metadata: {} }));
    expect(() => ShardedSafetensors.open(join(dir, 'nomap.json'))).toThrow(/must have a "weight_map" object/);
  });
});
