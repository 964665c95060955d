import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { nativeAvailable, nativeLoadError } from './native.js';
import { sgemm } from './sgemm.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

// Each worker loads the addon itself (it is context-aware), multiplies, and checks against a float64
// reference. Only one caller at a time gets the thread pool; the others run single-threaded on private
// scratch buffers, so concurrent callers must all get exact-enough results.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const binding = require(workerData.nodeGypBuild)(workerData.root);
const { m, n, k, seed, rounds } = workerData;
let x = seed;
const rand = () => { x = (x * 1103515245 + 12345) >>> 0; return x / 2 ** 32 - 0.5; };
const a = Float32Array.from({ length: m * k }, rand);
const b = Float32Array.from({ length: k * n }, rand);
const want = new Float64Array(m * n);
for (let i = 0; i < m; i++)
  for (let p = 0; p < k; p++) {
    const aip = a[i * k + p];
    for (let j = 0; j < n; j++) want[i * n + j] += aip * b[p * n + j];
  }
let worst = 0;
for (let r = 0; r < rounds; r++) {
  const c = new Float32Array(m * n);
  binding.sgemm(false, false, m, n, k, 1, a, 0, k, b, 0, n, 0, c, 0, n);
  for (let i = 0; i < m * n; i++) worst = Math.max(worst, Math.abs(c[i] - want[i]));
}
parentPort.postMessage(worst);
`;

describe.skipIf(!nativeAvailable)(
  `concurrent callers${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
  () => {
    it('gives correct results when worker threads multiply at the same time', async () => {
      const nodeGypBuild = createRequire(join(packageRoot, 'package.json')).resolve('node-gyp-build');
      const workers = [1, 2, 3].map(
        (seed) =>
          new Worker(workerSource, {
            eval: true,
            workerData: { nodeGypBuild, root: packageRoot, m: 150, n: 130, k: 300, seed, rounds: 20 },
          }),
      );
      const results = workers.map(
        (worker) =>
          new Promise<number>((resolve, reject) => {
            worker.once('message', resolve);
            worker.once('error', reject);
          }),
      );
      // The main thread keeps the pool busy meanwhile.
      const m = 300;
      const a = new Float32Array(m * m).fill(0.5);
      const c = new Float32Array(m * m);
      for (let i = 0; i < 10; i++) sgemm({ m, n: m, k: m, a, b: a, c });
      expect(c.every((v) => v === 75)).toBe(true);
      const worst = await Promise.all(results);
      await Promise.all(workers.map((worker) => worker.terminate()));
      for (const error of worst) expect(error).toBeLessThan(1e-4);
    });
  },
);
