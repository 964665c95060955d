/**
 * SVD (thin, float64 as the kernel contract says) of a 1024 × 1024 matrix on the `cpu` backend against
 * NumPy (`numpy.linalg.svd`, LAPACK gesdd through OpenBLAS) measured in the same run, with the same
 * thread count and with one thread on both sides: OpenBLAS's threaded LAPACK slows down sharply when the
 * machine is shared, so the single-threaded pair is the steadier comparison. QR and eigh are timed too.
 * Rounds alternate between lorakit and a persistent NumPy process; tables give medians. The JavaScript
 * reference backend's time is shown once for scale. Never fails on timings.
 *
 *   LORAKIT_BENCH_SIZES    comma-separated sizes (default 1024; 2048 and 4096 take minutes)
 *   LORAKIT_BENCH_THREADS  threads for the threaded pair (default 2)
 *   LORAKIT_BENCH_QUICK=1  fewer rounds
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { findReferencePython, printTable } from '@lorakit/bench-tools';
import { eigh, Generator, noGrad, qr, randn, svd, type Tensor, withBackend } from '@lorakit/tensor';
import { nativeAvailable, nativeLoadError, setNumThreads } from '../src/index.js';

const sizes = (process.env.LORAKIT_BENCH_SIZES ?? '1024').split(',').map(Number);
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
const quick = process.env.LORAKIT_BENCH_QUICK === '1';
const rounds = quick ? 2 : 3;

type Op = 'svd' | 'qr' | 'eigh';
const OPS: Op[] = ['svd', 'qr', 'eigh'];

/** A persistent NumPy process per thread count: "op n" in, milliseconds out. */
const anchorScript = `
import json, sys, time
import numpy as np
rng = np.random.default_rng(0)
cache = {}
for line in sys.stdin:
    op, n = line.split(); n = int(n)
    if n not in cache:
        a = rng.standard_normal((n, n))
        cache.clear(); cache[n] = (a, a + a.T)
    a, s = cache[n]
    f = {"svd": lambda: np.linalg.svd(a, full_matrices=False), "qr": lambda: np.linalg.qr(a),
         "eigh": lambda: np.linalg.eigh(s)}[op]
    t = time.perf_counter(); f(); print(json.dumps((time.perf_counter() - t) * 1000), flush=True)
`;

class Anchor {
  private readonly child;
  private readonly lines: AsyncIterator<string>;
  constructor(python: string, count: number) {
    const n = String(count);
    this.child = spawn(python, ['-c', anchorScript], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }
  async time(op: Op, n: number): Promise<number> {
    this.child.stdin.write(`${op} ${n}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the NumPy anchor exited');
    return JSON.parse(next.value) as number;
  }
  close(): void {
    this.child.stdin.end();
  }
}

if (!nativeAvailable) {
  console.log(`SVD benchmark skipped: native addon not available (${nativeLoadError})`);
  process.exit(0);
}
const { python, reason } = findReferencePython(['numpy']);
const anchors = python ? new Map([1, threads].map((t) => [t, new Anchor(python, t)])) : undefined;
console.log(`anchor: ${python ? `NumPy via ${python}` : `none (${reason})`}`);

const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
const seconds = (ms: number | undefined) =>
  ms === undefined ? 'n/a' : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
const ratio = (a: number, b: number | undefined) => (b === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`);

const rows: Record<string, string>[] = [];
for (const n of sizes) {
  const [a, symmetric] = noGrad(() =>
    withBackend('cpu', () => {
      const m = randn([n, n], { dtype: 'float64', generator: new Generator(n) });
      return [m, m.add(m.T)] as [Tensor, Tensor];
    }),
  );
  const run: Record<Op, () => unknown> = {
    svd: () => svd(a),
    qr: () => qr(a),
    eigh: () => eigh(symmetric),
  };
  for (const op of OPS) {
    const ours = new Map<number, number[]>([
      [1, []],
      [threads, []],
    ]);
    const numpy = new Map<number, number[]>([
      [1, []],
      [threads, []],
    ]);
    for (let round = 0; round < rounds; round++) {
      for (const t of [threads, 1]) {
        setNumThreads(t);
        await sleep(200);
        const start = performance.now();
        noGrad(run[op]);
        ours.get(t)!.push(performance.now() - start);
        if (anchors) {
          await sleep(200);
          numpy.get(t)!.push(await anchors.get(t)!.time(op, n));
        }
      }
    }
    let jsMs: number | undefined;
    if (n <= 1024) {
      const input = (op === 'eigh' ? symmetric : a).toBackend('js');
      const start = performance.now();
      noGrad(() => (op === 'svd' ? svd(input) : op === 'qr' ? qr(input) : eigh(input)));
      jsMs = performance.now() - start;
    }
    const row = (t: number) => {
      const mine = median(ours.get(t)!);
      const theirs = anchors ? median(numpy.get(t)!) : undefined;
      return { mine, theirs };
    };
    const threaded = row(threads);
    const single = row(1);
    rows.push({
      op: `${op} ${n}²`,
      [`lorakit (${threads} threads)`]: seconds(threaded.mine),
      [`numpy (${threads} threads)`]: seconds(threaded.theirs),
      ratio: ratio(threaded.mine, threaded.theirs),
      'lorakit (1 thread)': seconds(single.mine),
      'numpy (1 thread)': seconds(single.theirs),
      'ratio (1 thread)': ratio(single.mine, single.theirs),
      'js backend': seconds(jsMs),
    });
  }
}
for (const anchor of anchors?.values() ?? []) anchor.close();
printTable(
  `Dense linear algebra in float64, lorakit cpu backend vs NumPy (OpenBLAS LAPACK), time (lower is better), median of ${rounds} interleaved rounds; ratio = lorakit / numpy`,
  rows,
);
