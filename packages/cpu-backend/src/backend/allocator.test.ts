import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Generator, randn, type Tensor, tensor, tidy } from '@lorakit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackendError } from '../errors.js';
import { nativeAvailable, nativeLoadError } from '../native.js';
import { memoryPoolStats, releasePooledMemory, setMemoryPoolLimit } from './allocator.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cpu = { backend: 'cpu' } as const;
/** 128 × 128 float32: 64 KiB, the smallest size that is pooled. */
const SHAPE = [128, 128];
const bufferOf = (t: Tensor) => (t.view().storage as Float32Array).buffer;

describe.skipIf(!nativeAvailable)(
  `cpu backend memory recycling${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
  () => {
    const generator = new Generator(1);
    afterEach(() => {
      setMemoryPoolLimit(1024 * 2 ** 20);
      releasePooledMemory();
    });

    it('reuses the buffer of a disposed output for the next output of that size', () => {
      releasePooledMemory();
      const x = randn(SHAPE, { ...cpu, generator });
      const a = x.mul(2);
      const buffer = bufferOf(a);
      a.dispose();
      expect(memoryPoolStats()).toMatchObject({ buffers: 1, pooledBytes: 65536 });
      const b = x.add(1);
      expect(bufferOf(b)).toBe(buffer);
      expect(memoryPoolStats()).toMatchObject({ buffers: 0, pooledBytes: 0 });
      // The recycled memory holds the new values, not the old ones.
      const expected = (x.toArray() as Float32Array).map((v) => v + 1);
      expect(b.toArray()).toEqual(expected);
    });

    it('keeps the storage while a view of it lives, and pools it after the last one', () => {
      releasePooledMemory();
      const a = randn(SHAPE, { ...cpu, generator }).mul(3);
      const view = a.transpose(0, 1);
      a.dispose();
      expect(memoryPoolStats().buffers).toBe(0);
      expect(view.sum().item()).toBeTypeOf('number');
      view.dispose();
      expect(memoryPoolStats().buffers).toBe(1);
    });

    it('never pools memory that left the backend or that it did not allocate', () => {
      releasePooledMemory();
      const a = randn(SHAPE, { ...cpu, generator }).mul(2);
      // toHost hands out a fresh output buffer: it is the caller's from then on.
      const host = a.toArray() as Float32Array;
      const copy = tensor(host, cpu).reshape(SHAPE);
      // A tensor made from host data owns a copy, allocated zero-filled rather than for an output.
      copy.dispose();
      a.dispose();
      expect(memoryPoolStats().buffers).toBe(1);
      const b = randn(SHAPE, { ...cpu, generator }).mul(2);
      expect(bufferOf(b)).not.toBe(host.buffer);
      // Small outputs are plain typed arrays: not worth pooling.
      randn([4, 4], { ...cpu, generator })
        .mul(2)
        .dispose();
      expect(memoryPoolStats().buffers).toBe(0);
    });

    it('tidy recycles what it disposes; the pool respects its limit', () => {
      releasePooledMemory();
      const x = randn(SHAPE, { ...cpu, generator });
      tidy(() => x.mul(2).exp().add(1).sum());
      expect(memoryPoolStats().buffers).toBe(3);
      setMemoryPoolLimit(65536);
      expect(memoryPoolStats()).toEqual({ buffers: 1, pooledBytes: 65536, limitBytes: 65536 });
      setMemoryPoolLimit(0);
      expect(memoryPoolStats().buffers).toBe(0);
      x.mul(2).dispose();
      expect(memoryPoolStats().buffers).toBe(0);
    });

    it("backward's temporaries go back to the pool and the gradient matches the JS backend's", () => {
      releasePooledMemory();
      const step = (backend: string) => {
        const g = new Generator(7);
        const w = randn([64, 256], { backend, generator: g, requiresGrad: true });
        const x = randn([32, 64], { backend, generator: g });
        x.matmul(w).tanh().matmul(w.T).square().mean().backward();
        return w.grad!.toArray() as Float32Array;
      };
      const ours = step('cpu');
      expect(memoryPoolStats().buffers).toBeGreaterThan(0);
      const reference = step('js');
      for (const [i, v] of ours.entries()) expect(v).toBeCloseTo(reference[i]!, 4);
    });

    it('rejects a bad limit, naming what it expected', () => {
      for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => setMemoryPoolLimit(bad)).toThrow(CpuBackendError);
      }
      expect(() => setMemoryPoolLimit(-1)).toThrow(
        '[setMemoryPoolLimit] bytes must be a finite number ≥ 0 (0 turns recycling off), received -1',
      );
    });

    const startUp = (value: string) => {
      const script =
        "import { memoryPoolStats } from './src/index.ts'; process.stdout.write(JSON.stringify(memoryPoolStats()));";
      return execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: packageRoot,
        env: { ...process.env, LORAKIT_CPU_POOL_MB: value },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    };

    it('reads LORAKIT_CPU_POOL_MB at start-up and rejects a value that is not a size', () => {
      expect(JSON.parse(startUp('64')).limitBytes).toBe(64 * 2 ** 20);
      expect(JSON.parse(startUp('0')).limitBytes).toBe(0);
      expect(() => startUp('lots')).toThrow(
        'LORAKIT_CPU_POOL_MB must be a number of MiB ≥ 0 (0 turns recycling off), received "lots"',
      );
    });
  },
);
