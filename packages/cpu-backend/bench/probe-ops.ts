// Exploratory microbenchmarks of single kernels.
import { getBackend, noGrad, randn, setDefaultBackend } from '@lorakit/tensor';
import { setNumThreads } from '../src/index.js';

if (process.env.BACKEND) setDefaultBackend(process.env.BACKEND);
const threads = Number(process.env.THREADS ?? 2);
setNumThreads(threads);
const n = Number(process.env.N ?? 1 << 20);
const x = randn([n]);
const y = randn([n]);
function time(name: string, f: () => unknown, reps = 20) {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    f();
    t.push(performance.now() - s);
  }
  t.sort((a, b) => a - b);
  console.log(
    name.padEnd(16),
    t[reps >> 1]!.toFixed(3),
    'ms',
    (n / t[reps >> 1]! / 1e6).toFixed(2),
    'Gelem/s',
  );
}
noGrad(() => {
  const dst = new Float32Array(n);
  const src = new Float32Array(n);
  time('memcpy(set)', () => dst.set(src));
  time('alloc', () => new Float32Array(n));
  time('alloc+fill', () => new Float32Array(n).fill(1));
  time('mul', () => x.mul(y));
  time('add', () => x.add(y));
  time('exp', () => x.exp());
  time('silu', () => x.silu());
  time('gelu', () => x.gelu());
  time('neg', () => x.neg());
});
console.log(getBackend().name, 'threads', threads);
