/**
 * Reading benchmark. Writes a ~1 GiB safetensors file (F32 and BF16 tensors), then measures, in the
 * same run:
 *  - raw read speed: the whole file read with plain positioned reads into one buffer (the anchor);
 *  - lorakit: every tensor read by name and decoded to Float32Array;
 *  - peak RSS of a fresh process that opens the file and reads one small tensor.
 * Prints the ratio lorakit / raw. Never fails on timing.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, type TensorEntry, writeSafetensors } from '../src/index.js';

const MiB = 2 ** 20;
const dir = mkdtempSync(join(tmpdir(), 'lorakit-st-bench-'));
const path = join(dir, 'bench.safetensors');

const entries: TensorEntry[] = [];
for (let i = 0; i < 14; i++) {
  entries.push({
    name: `layers.${i}.weight`,
    dtype: 'F32',
    shape: [4096, 4096],
    data: () => new Float32Array(4096 * 4096).fill(i),
  });
}
for (let i = 0; i < 4; i++) {
  entries.push({
    name: `layers.${i}.bf16`,
    dtype: 'BF16',
    shape: [4096, 4096],
    data: () => new Uint16Array(4096 * 4096).fill(0x3f80),
  });
}
entries.push({ name: 'small', dtype: 'F32', shape: [16], data: new Float32Array(16).fill(1) });

await writeSafetensors(path, entries);

function rawRead(): number {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  const buffer = new Uint8Array(size);
  let done = 0;
  while (done < size) done += readSync(fd, buffer, done, Math.min(0x7fff_f000, size - done), done);
  closeSync(fd);
  return size;
}

function lorakitRead(): number {
  const file = SafetensorsFile.open(path);
  let elements = 0;
  for (const name of file.names()) elements += file.readSync(name).data.length;
  file.close();
  return elements;
}

function time(fn: () => void, repeats = 5): number {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    globalThis.gc?.();
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const size = rawRead(); // warm the page cache for both contenders
lorakitRead();
const rawMs = time(rawRead);
const lorakitMs = time(lorakitRead);

// A fresh process, so that nothing this one allocated counts. It reports its resident set after
// loading the package and after opening the 1 GiB file and reading one tensor.
const probe = `
  const { SafetensorsFile } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
  const before = process.memoryUsage().rss;
  const file = SafetensorsFile.open(${JSON.stringify(path)});
  file.readSync('small');
  file.close();
  console.log(JSON.stringify({ before, after: process.memoryUsage().rss }));`;
const rss = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', probe]).toString()) as {
  before: number;
  after: number;
};

console.log(
  `file: ${(size / MiB).toFixed(0)} MiB, ${entries.length} tensors (14 F32, 4 BF16 of 4096×4096, 1 small)`,
);
console.log(
  `raw positioned read of the whole file : ${rawMs.toFixed(0)} ms  (${((size / MiB / rawMs) * 1000).toFixed(0)} MiB/s)`,
);
console.log(
  `lorakit read of every tensor → f32   : ${lorakitMs.toFixed(0)} ms  (${((size / MiB / lorakitMs) * 1000).toFixed(0)} MiB/s)`,
);
console.log(
  `ratio lorakit / raw                  : ${(lorakitMs / rawMs).toFixed(2)}× (BF16 decoding included)`,
);
console.log(
  `RSS reading one 64-byte tensor      : ${(rss.after / MiB).toFixed(1)} MiB (${((rss.after - rss.before) / MiB).toFixed(2)} MiB above the process before opening the file)`,
);
rmSync(dir, { recursive: true, force: true });
