/**
 * `pnpm bench` for @lorakit/loftq, with PyTorch measured in the same run as the anchor:
 * 1. NF4 quantize / dequantize of a 4096×4096 float32 weight — against bitsandbytes' quantization written
 *    in PyTorch (the stand-in of fixtures/peft-extra/generate_loftq.py, which follows bitsandbytes'
 *    pure-PyTorch backend; bitsandbytes itself cannot be installed here).
 * 2. LoftQ init of one layer (4 bits, 1 iteration, r = 16) on 1024² and 4096² — against PEFT 0.21's own
 *    `loftq_init` (same stand-in, its "cuda" mapped to the CPU). Exact SVD like PEFT; the randomized-SVD
 *    option is timed too. The exact 4096² run is skipped when its estimate (1024² time × 64) exceeds the
 *    budget (LOFTQ_BENCH_BUDGET_S, default 600 s).
 * 3. Memory of a 4096×4096 Linear4bit / Linear8bitLt: the bytes its buffers hold, and the growth of
 *    process ArrayBuffer memory after the float weight is dropped.
 * lorakit runs on the fastest backend installed (`cpu` from @lorakit/cpu-backend when its addon is built,
 * with 2 threads, else the single-threaded JS reference backend; the first line says which); PyTorch gets
 * 2 threads. NF4 quantization itself is plain JavaScript over Float32Arrays on either backend. Timings
 * never fail. LOFTQ_BENCH_SECTIONS=nf4,loftq,memory picks sections (default: all).
 */
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  findReferencePython,
  printTable,
  ratio,
  runPython,
  timeMedian,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { Linear } from '@lorakit/nn';
import { Generator, getBackend, noGrad, randn } from '@lorakit/tensor';
import { repoRoot } from '@lorakit/vitest-config/fixtures';
import { Linear4bit, Linear8bitLt, loftqInit, nf4DequantizeValues, nf4QuantizeValues } from '../src/index.js';

const { label: backendLabel } = await useFastestBackend(import.meta.url);
const threads = 2;
const rank = 16;
const size = 4096;
const loftqSizes = [1024, 4096];
const budgetMs = Number(process.env.LOFTQ_BENCH_BUDGET_S ?? 600) * 1000;
const sections = new Set((process.env.LOFTQ_BENCH_SECTIONS ?? 'nf4,loftq,memory').split(','));
const ms = (t: number | undefined) =>
  t === undefined ? 'n/a' : t >= 1000 ? `${(t / 1000).toFixed(2)} s` : `${t.toFixed(1)} ms`;

interface TorchTimes {
  quantize: number;
  dequantize: number;
  loftq: Record<string, number>;
}

const anchor = findReferencePython(['torch', 'peft']);
let torch: TorchTimes | undefined;
if (!sections.has('nf4') && !sections.has('loftq')) {
  // memory only: no anchor needed
} else if (anchor.python) {
  torch = runPython<TorchTimes>(
    anchor.python,
    `
import json, sys, time, torch
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'fixtures', 'peft-extra'))})
import generate_loftq as g  # installs the bitsandbytes stand-in, then imports peft
from peft.utils.loftq_utils import loftq_init
torch.set_num_threads(${threads})
torch.manual_seed(0)
def median(f, reps, warmup=1):
    for _ in range(warmup): f()
    s = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); s.append(time.perf_counter() - t0)
    return sorted(s)[len(s) // 2] * 1000
out = {"loftq": {}}
with torch.no_grad():
    w = torch.randn(${size}, ${size}) * 0.02
    packed, state = g.quantize_4bit(w)
    out["quantize"] = median(lambda: g.quantize_4bit(w), 5)
    out["dequantize"] = median(lambda: g.dequantize_4bit(packed, state), 5)
    with g.AcceleratorOnCpu():
        for n in (${JSON.stringify(loftqSizes)} if ${sections.has('loftq') ? 'True' : 'False'} else []):
            x = torch.randn(n, n) * 0.02
            # The first LAPACK call of the process pays a one-off setup; warm up on the small size only.
            out["loftq"][str(n)] = median(lambda: loftq_init(x, 4, ${rank}, 1), 3 if n <= 1024 else 1, 1 if n <= 1024 else 0)
print(json.dumps(out))`,
    // PYTHONDONTWRITEBYTECODE: importing fixtures/peft-extra/generate_loftq.py must not leave __pycache__ there.
    { OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), PYTHONDONTWRITEBYTECODE: '1' },
  );
} else {
  console.log(`PyTorch/PEFT anchor missing: ${anchor.reason}`);
}

// 1. NF4 throughput.
if (sections.has('nf4')) benchNf4();
function benchNf4(): void {
  const weight = randn([size, size], { std: 0.02, generator: new Generator(1) });
  const values = weight.toArray() as Float32Array;
  const quantizeMs = timeMedian(() => nf4QuantizeValues(values, 64), { repeats: 5 });
  const quantized = { ...nf4QuantizeValues(values, 64), blocksize: 64 };
  const out = new Float32Array(values.length);
  const dequantizeMs = timeMedian(() => nf4DequantizeValues(quantized, values.length, out), { repeats: 5 });
  const throughput = (t: number) => `${((values.length * 4) / (t / 1000) / 1e9).toFixed(2)} GB/s`;
  printTable(`NF4 on a ${size}×${size} float32 weight (bitsandbytes-exact; median of 5)`, [
    {
      op: 'quantize',
      lorakit: ms(quantizeMs),
      'lorakit (float32 in)': throughput(quantizeMs),
      torch: ms(torch?.quantize),
      'ratio (lorakit/torch)': ratio(quantizeMs, torch?.quantize),
    },
    {
      op: 'dequantize',
      lorakit: ms(dequantizeMs),
      'lorakit (float32 in)': throughput(dequantizeMs),
      torch: ms(torch?.dequantize),
      'ratio (lorakit/torch)': ratio(dequantizeMs, torch?.dequantize),
    },
  ]);
}

// 2. LoftQ init of one layer.
if (sections.has('loftq')) benchLoftq();
function benchLoftq(): void {
  const rows: Record<string, string>[] = [];
  let exact1024: number | undefined;
  noGrad(() => {
    for (const n of loftqSizes) {
      const w = randn([n, n], { std: 0.02, generator: new Generator(n) });
      const reference = torch?.loftq[String(n)];
      const estimate = exact1024 === undefined ? undefined : exact1024 * (n / 1024) ** 3;
      let exact: number | undefined;
      if (estimate === undefined || estimate <= budgetMs) {
        exact = timeMedian(() => loftqInit(w, { bits: 4, rank, iterations: 1 }), {
          repeats: n <= 1024 ? 3 : 1,
          warmup: 0,
        });
        if (n === 1024) exact1024 = exact;
      }
      rows.push({
        layer: `${n}×${n}`,
        'lorakit (exact SVD)': exact === undefined ? `skipped (≈ ${ms(estimate)})` : ms(exact),
        'PEFT loftq_init': ms(reference),
        'ratio (lorakit/PEFT)': ratio(exact, reference),
      });
      const lowrank = timeMedian(
        () => loftqInit(w, { bits: 4, rank, iterations: 1, svd: { method: 'lowrank', niter: 4 } }),
        { repeats: 3, warmup: 0 },
      );
      rows.push({
        layer: `${n}×${n}`,
        'lorakit (exact SVD)': `${ms(lowrank)} (randomized SVD, niter 4)`,
        'PEFT loftq_init': ms(reference),
        'ratio (lorakit/PEFT)': ratio(lowrank, reference),
      });
    }
  });
  printTable(
    `LoftQ init, 4 bits, 1 iteration, r = ${rank}; lorakit on the "${getBackend().name}" backend (${backendLabel}), PEFT: torch.linalg.svd, ${threads} threads`,
    rows,
  );
}

// 3. Memory per weight.
if (sections.has('memory')) await benchMemory();
async function benchMemory(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** ArrayBuffer bytes after collecting garbage (backing stores are released a turn after a GC). */
  async function arrayBuffers(): Promise<number> {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return process.memoryUsage().arrayBuffers;
  }
  const memoryRows: Record<string, string>[] = [];
  const alive: unknown[] = []; // layers stay alive, so a collected one cannot offset the next measurement
  for (const [label, make] of [
    ['Linear4bit (NF4, block 64)', (l: Linear) => Linear4bit.fromLinear(l)],
    ['Linear8bitLt (int8, per row)', (l: Linear) => Linear8bitLt.fromLinear(l)],
  ] as const) {
    const before = await arrayBuffers();
    let float: Linear | undefined = new Linear(size, size, { bias: false });
    const floatBytes = (await arrayBuffers()) - before;
    const layer = make(float);
    float.weight.dispose();
    float = undefined;
    const measured = (await arrayBuffers()) - before;
    alive.push(layer);
    memoryRows.push({
      layer: label,
      'buffers (B/weight)': layer.storage().bytesPerWeight.toFixed(4),
      'measured (B/weight)': (measured / layer.weightCount).toFixed(4),
      'float32 Linear (B/weight)': (floatBytes / layer.weightCount).toFixed(4),
    });
  }
  printTable(
    `Memory of a ${size}×${size} layer (process ArrayBuffer growth after GC, float weight dropped)`,
    memoryRows,
  );
}
