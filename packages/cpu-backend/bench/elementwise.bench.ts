/**
 * Elementwise throughput of the `cpu` backend over 16M float32 elements (64 MiB per tensor) against
 * memcpy measured in the same run: a `Float32Array.prototype.set` of the same bytes into a preallocated
 * array, and the same set into a freshly allocated one (every tensor op returns a fresh tensor, so that
 * second anchor includes the allocation cost an op pays too). add and mul move 3 × 64 MiB (two inputs,
 * one output), gelu and exp 2 × 64 MiB; GB/s counts those bytes, and the ratio compares it with memcpy's
 * (2 × 64 MiB per copy). Rounds alternate between all contenders; tables give medians. The JavaScript
 * backend's time is shown for reference. Never fails on timings.
 *
 *   LORAKIT_BENCH_THREADS  threads for the cpu backend (default 2)
 *   LORAKIT_BENCH_QUICK=1  fewer rounds
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { printTable } from '@lorakit/bench-tools';
import { noGrad, randn, type Tensor, withBackend } from '@lorakit/tensor';
import { cpuFeatures, nativeAvailable, nativeLoadError, setNumThreads } from '../src/index.js';

const n = 16 * 1024 * 1024;
const bytes = n * 4;
const quick = process.env.LORAKIT_BENCH_QUICK === '1';
const rounds = quick ? 3 : 7;
const repeats = 3;
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);

if (!nativeAvailable) {
  console.log(`elementwise benchmark skipped: native addon not available (${nativeLoadError})`);
  process.exit(0);
}
setNumThreads(threads);

interface Contender {
  name: string;
  /** Bytes read and written per call. */
  moved: number;
  run: () => unknown;
}

const source = new Float32Array(n).map((_, i) => Math.sin(i));
const target = new Float32Array(n);
const [x, y] = noGrad(() => withBackend('cpu', () => [randn([n]), randn([n])] as [Tensor, Tensor]));
const op = (f: () => Tensor) => () => noGrad(f);

const contenders: Contender[] = [
  { name: 'memcpy (set into a preallocated array)', moved: 2 * bytes, run: () => target.set(source) },
  { name: 'memcpy (set into a new array)', moved: 2 * bytes, run: () => new Float32Array(n).set(source) },
  { name: 'add', moved: 3 * bytes, run: op(() => x.add(y)) },
  { name: 'mul', moved: 3 * bytes, run: op(() => x.mul(y)) },
  { name: 'gelu (erf)', moved: 2 * bytes, run: op(() => x.gelu()) },
  { name: 'exp', moved: 2 * bytes, run: op(() => x.exp()) },
];

const times = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
for (const c of contenders) c.run();
for (let round = 0; round < rounds; round++) {
  for (const c of contenders) {
    await sleep(50);
    c.run();
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      c.run();
      times.get(c.name)!.push(performance.now() - start);
    }
  }
}

// The JavaScript reference backend, once, for scale.
const jsTimes = new Map<string, number>();
noGrad(() =>
  withBackend('js', () => {
    const a = randn([n]);
    const b = randn([n]);
    for (const [name, f] of [
      ['add', () => a.add(b)],
      ['mul', () => a.mul(b)],
      ['gelu (erf)', () => a.gelu()],
      ['exp', () => a.exp()],
    ] as const) {
      const start = performance.now();
      f();
      jsTimes.set(name, performance.now() - start);
    }
  }),
);

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const gbps = (moved: number, ms: number) => moved / ms / 1e6;
const memcpy = gbps(2 * bytes, median(times.get(contenders[0]!.name)!));
const memcpyFresh = gbps(2 * bytes, median(times.get(contenders[1]!.name)!));
printTable(
  `Elementwise ops over 16M float32 (64 MiB per tensor), cpu backend (${cpuFeatures().kernel}, ${threads} threads), median of ${rounds} interleaved rounds × ${repeats}`,
  contenders.map((c) => {
    const ms = median(times.get(c.name)!);
    const rate = gbps(c.moved, ms);
    const js = jsTimes.get(c.name);
    return {
      op: c.name,
      ms: ms.toFixed(2),
      'GB/s moved': rate.toFixed(1),
      'vs memcpy': `${(rate / memcpy).toFixed(2)}×`,
      'vs memcpy into a new array': `${(rate / memcpyFresh).toFixed(2)}×`,
      'js backend ms': js === undefined ? '' : js.toFixed(0),
    };
  }),
);
