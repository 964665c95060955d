/**
 * GEMM benchmark: GFLOP/s of @lorakit/cpu-backend's sgemm against numpy (OpenBLAS) measured in the same
 * run with the same thread count, at square sizes and at LoRA's shapes (tokens × d × r and tokens × r × d).
 *
 * The machine may be shared, so the two contenders alternate: each round times ours, then numpy, a few
 * repeats each, and the table reports the median and the best over all rounds. Never fails on timings.
 *
 *   LORAKIT_BENCH_THREADS  threads for both sides (default: min(2, cores))
 *   LORAKIT_BENCH_QUICK=1  fewer rounds and no 4096³
 *   LORAKIT_PYTHON         interpreter with numpy (default: .venv-ref/bin/python, then python3)
 *   LORAKIT_CPU_KERNEL     our kernel set (avx512, avx2, portable; default: the widest the CPU runs)
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { findReferencePython, printTable } from '@lorakit/bench-tools';
import { cpuFeatures, nativeAvailable, nativeLoadError, setNumThreads, sgemm } from '../src/index.js';

interface Case {
  name: string;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  /** Timed calls per round for each side. */
  repeats: number;
  rounds: number;
  /** Which table the case goes to. */
  group: Group;
}

type Group = 'square' | 'lora' | 'backward';

const quick = process.env.LORAKIT_BENCH_QUICK === '1';
const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? Math.min(2, availableParallelism()));
const rounds = quick ? 3 : 7;

const cases: Case[] = [];
for (const [size, repeats] of [
  [256, 200],
  [512, 40],
  [1024, 6],
  [2048, 2],
  [4096, 1],
] as const) {
  if (quick && size === 4096) continue;
  cases.push({
    name: `${size}³`,
    m: size,
    n: size,
    k: size,
    transA: false,
    transB: false,
    repeats,
    rounds: size === 4096 ? 3 : rounds,
    group: 'square',
  });
}
// LoRA with d = 4096 and 512 tokens: x · Aᵀ (A is r × d) and h · Bᵀ (B is d × r), both as nn.Linear does.
// Names give the stored operands, then m × n × k.
const lora = (
  name: string,
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  group: Group,
) => cases.push({ name: `${name} ${m}×${n}×${k}`, m, n, k, transA, transB, repeats: 40, rounds, group });
for (const r of [8, 16, 64]) {
  lora('x·Aᵀ', 512, r, 4096, false, true, 'lora');
  lora('h·Bᵀ', 512, 4096, r, false, true, 'lora');
}
// The same layer's backward products (dY is the upstream gradient [512 × d], dH = dY · B is [512 × r]).
if (!quick) {
  for (const r of [8, 16, 64]) {
    lora('dY·B', 512, r, 4096, false, false, 'backward');
    lora('dH·A', 512, 4096, r, false, false, 'backward');
    lora('dHᵀ·X', r, 4096, 512, true, false, 'backward');
    lora('dYᵀ·H', 4096, r, 512, true, false, 'backward');
  }
}

/**
 * A persistent numpy process: first one JSON line naming the OpenBLAS kernel core in use (DYNAMIC_ARCH
 * builds pick it at run time; OPENBLAS_CORETYPE forces one, e.g. Haswell's AVX2 kernels on an AVX-512
 * CPU), then one JSON request per line in, one JSON list of seconds per line out.
 */
const anchorScript = `
import ctypes, glob, json, os, sys, time
import numpy as np
rng = np.random.default_rng(0)
WARMUP_S = float(sys.argv[1])

def openblas_core():
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")
    for path in glob.glob(libs):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            f = getattr(lib, name, None)
            if f is not None:
                f.restype = ctypes.c_char_p
                return f().decode()
    return "unknown"

print(json.dumps(openblas_core()), flush=True)
cache = {}
for line in sys.stdin:
    q = json.loads(line)
    key = (q["m"], q["n"], q["k"], q["transA"], q["transB"])
    if key not in cache:
        m, n, k = q["m"], q["n"], q["k"]
        a = rng.random((k, m) if q["transA"] else (m, k), dtype=np.float32)
        b = rng.random((n, k) if q["transB"] else (k, n), dtype=np.float32)
        cache.clear()
        cache[key] = (a.T if q["transA"] else a, b.T if q["transB"] else b, np.empty((m, n), np.float32))
    a, b, c = cache[key]
    warm = time.perf_counter()
    while True:
        np.matmul(a, b, out=c)
        if time.perf_counter() - warm > WARMUP_S:
            break
    times = []
    for _ in range(q["repeats"]):
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t)
    print(json.dumps(times), flush=True)
`;

class Anchor {
  private readonly child;
  private readonly lines: AsyncIterator<string>;

  constructor(python: string) {
    const n = String(threads);
    this.child = spawn(python, ['-c', anchorScript, String(warmupMs / 1000)], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** The OpenBLAS core (the first line the anchor prints). */
  async core(): Promise<string> {
    const next = await this.lines.next();
    if (next.done) throw new Error('the numpy anchor exited');
    return JSON.parse(next.value) as string;
  }

  async time(c: Case): Promise<number[]> {
    this.child.stdin.write(`${JSON.stringify(c)}\n`);
    const next = await this.lines.next();
    if (next.done) throw new Error('the numpy anchor exited');
    return (JSON.parse(next.value) as number[]).map((s) => s * 1000);
  }

  close(): void {
    this.child.stdin.end();
  }
}

function random(length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.random();
  return out;
}

function ours(c: Case): () => number[] {
  const a = random(c.m * c.k);
  const b = random(c.k * c.n);
  const out = new Float32Array(c.m * c.n);
  const call = () => sgemm({ m: c.m, n: c.n, k: c.k, a, b, c: out, transA: c.transA, transB: c.transB });
  call();
  return () => {
    const warm = performance.now();
    do call();
    while (performance.now() - warm < warmupMs);
    const times: number[] = [];
    for (let i = 0; i < c.repeats; i++) {
      const start = performance.now();
      call();
      times.push(performance.now() - start);
    }
    return times;
  };
}

/**
 * Untimed calls before each side's timed ones: clocks ramp up and caches fill after the pause below.
 */
const warmupMs = 30;

/**
 * Both sides leave threads spinning after a call (OpenBLAS for about 2^28 cycles by default, our pool for
 * 300 µs) which would steal cores from the other side's next round; a short pause between sides lets them
 * go to sleep.
 */
const settle = () => sleep(quick ? 100 : 250);

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const gflops = (c: Case, ms: number) => (2 * c.m * c.n * c.k) / ms / 1e6;

if (!nativeAvailable) {
  console.log(`sgemm benchmark skipped: native addon not available (${nativeLoadError})`);
  process.exit(0);
}
setNumThreads(threads);
const { python, reason } = findReferencePython(['numpy']);
const anchor = python ? new Anchor(python) : undefined;
const core = anchor ? await anchor.core() : undefined;
const forced = process.env.OPENBLAS_CORETYPE
  ? `, forced by OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE}`
  : '';
console.log(
  `sgemm, ${threads} thread(s), kernel ${cpuFeatures().kernel}; anchor: ${python ? `numpy (OpenBLAS, ${core} kernels${forced}) via ${python}, OPENBLAS_NUM_THREADS=${threads}` : `none (${reason})`}`,
);

const rows: Record<Group, Record<string, unknown>[]> = { square: [], lora: [], backward: [] };
for (const c of cases) {
  const run = ours(c);
  const mine: number[] = [];
  const theirs: number[] = [];
  for (let round = 0; round < c.rounds; round++) {
    await settle();
    mine.push(...run());
    if (anchor) {
      await settle();
      theirs.push(...(await anchor.time(c)));
    }
  }
  const oursMedian = gflops(c, median(mine));
  const oursBest = gflops(c, Math.min(...mine));
  const numpyMedian = anchor ? gflops(c, median(theirs)) : undefined;
  const numpyBest = anchor ? gflops(c, Math.min(...theirs)) : undefined;
  rows[c.group].push({
    shape: c.name,
    'ours GFLOP/s (median)': oursMedian.toFixed(1),
    'numpy GFLOP/s (median)': numpyMedian?.toFixed(1) ?? 'n/a',
    'ratio (median)': numpyMedian ? `${(oursMedian / numpyMedian).toFixed(2)}×` : 'n/a',
    'ours best': oursBest.toFixed(1),
    'numpy best': numpyBest?.toFixed(1) ?? 'n/a',
    'ratio (best)': numpyBest ? `${(oursBest / numpyBest).toFixed(2)}×` : 'n/a',
  });
}
anchor?.close();
const header = `${threads} thread(s), ours vs numpy/OpenBLAS, median and best of interleaved rounds`;
printTable(`sgemm GFLOP/s, square, ${header}`, rows.square);
printTable(`sgemm GFLOP/s, LoRA forward (d = 4096, 512 tokens; m×n×k), ${header}`, rows.lora);
printTable(`sgemm GFLOP/s, LoRA backward (not among the targets; m×n×k), ${header}`, rows.backward);
