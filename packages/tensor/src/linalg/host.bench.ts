/**
 * Timings of the host linear algebra on square random matrices, as ratios to an anchor measured in the
 * same run (a plain 256×256 matrix product, i-k-j loops), so that runs on different machines compare.
 * Run from packages/tensor:  node --import tsx src/linalg/host.bench.ts [sizes…]   (default 256 1024)
 * test-data/linalg/numpy-timings.py measures NumPy on the same sizes.
 */
import { eighHost, qrHost, svdHost } from './host.js';

function randomMatrix(size: number, seed: number): Float64Array {
  // xorshift32: deterministic, no dependency on the library's RNG.
  let state = seed >>> 0 || 1;
  const out = new Float64Array(size * size);
  for (let i = 0; i < out.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = (state >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, size: number): Float64Array {
  const out = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let l = 0; l < size; l++) {
      const x = a[i * size + l]!;
      const row = l * size;
      const target = i * size;
      for (let j = 0; j < size; j++) out[target + j] = out[target + j]! + x * b[row + j]!;
    }
  }
  return out;
}

/** Median wall time in ms of `repeats` runs after one warm-up run. */
function time(run: () => unknown, repeats: number): number {
  run();
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)]!;
}

const sizes = process.argv.slice(2).map(Number);
const anchorMatrix = randomMatrix(256, 1);
const anchor = time(() => matmul(anchorMatrix, anchorMatrix, 256), 5);
console.log(`anchor: 256×256 matmul ${anchor.toFixed(1)} ms`);
for (const size of sizes.length > 0 ? sizes : [256, 1024]) {
  const a = randomMatrix(size, size);
  const symmetric = a.map((_, index) => {
    const i = Math.floor(index / size);
    const j = index % size;
    return a[i * size + j]! + a[j * size + i]!;
  });
  const repeats = size <= 256 ? 5 : 1;
  const rows: [string, () => unknown][] = [
    ['svd (thin)', () => svdHost(a, size, size, false)],
    ['qr', () => qrHost(a, size, size)],
    ['eigh', () => eighHost(symmetric, size)],
  ];
  for (const [name, run] of rows) {
    const ms = time(run, repeats);
    console.log(`${size}×${size} ${name}: ${ms.toFixed(1)} ms = ${(ms / anchor).toFixed(2)} × anchor`);
  }
}
