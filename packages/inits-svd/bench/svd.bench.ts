/**
 * PiSSA init time — full SVD (`'pissa'`) and randomized SVD (`'pissa_niter_4'`) — on 1024² and 4096²
 * layers with r = 16, against PyTorch measured in the same run (`torch.linalg.svd` and
 * `torch.svd_lowrank` plus the same factor split and residual, `torch.set_num_threads(2)`). lorakit
 * runs on the fastest backend installed (`cpu` from @lorakit/cpu-backend when its addon is built, else
 * the single-threaded JS reference backend; the first line says which). A full SVD is skipped when its
 * estimate (the previous size's time scaled by n³) exceeds two minutes. Sizes:
 * `LORAKIT_BENCH_SIZES=1024,4096` (the default).
 */
import {
  findReferencePython,
  printTable,
  ratio,
  runPython,
  timeMedian,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { Generator, getBackend, noGrad, randn } from '@lorakit/tensor';
import { pissaInit, pissaNiterInit } from '../src/index.js';

const { label: backendLabel } = await useFastestBackend(import.meta.url);

const sizes = (process.env.LORAKIT_BENCH_SIZES ?? '1024,4096').split(',').map(Number);
const r = 16;
const niter = 4;
const threads = 2;
const fullSvdBudgetMs = 120_000;

interface TorchTimes {
  full: number;
  niter: number;
}

const anchor = findReferencePython(['torch']);
const torchTimes = new Map<number, TorchTimes>();
if (anchor.python) {
  const result = runPython<Record<string, TorchTimes>>(
    anchor.python,
    `
import json, time, torch
torch.set_num_threads(${threads})
torch.manual_seed(0)
def median(f, reps):
    f(); s = []
    for _ in range(reps):
        t0 = time.perf_counter(); f(); s.append(time.perf_counter() - t0)
    return sorted(s)[len(s) // 2] * 1000
def split(w, u, s, vh):  # PEFT's pissa_init after the SVD (scaling 1)
    a = torch.diag(torch.sqrt(s)) @ vh
    b = u @ torch.diag(torch.sqrt(s))
    return w - b @ a
def full(w):
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    return split(w, u[:, :${r}], s[:${r}], vh[:${r}])
def fast(w):
    u, s, v = torch.svd_lowrank(w, ${r}, niter=${niter})
    return split(w, u, s, v.t())
out = {}
with torch.no_grad():
    for n in ${JSON.stringify(sizes)}:
        w = torch.randn(n, n)
        out[n] = {"full": median(lambda: full(w), 3 if n <= 1024 else 1), "niter": median(lambda: fast(w), 5)}
print(json.dumps(out))`,
    { OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
  );
  for (const [n, times] of Object.entries(result)) torchTimes.set(Number(n), times);
} else {
  console.log(`PyTorch anchor missing: ${anchor.reason}`);
}

const rows: Record<string, string>[] = [];
const seconds = (ms: number) => (ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`);
let previousFull: { n: number; ms: number } | undefined;
noGrad(() => {
  for (const n of sizes) {
    const weight = randn([n, n], { generator: new Generator(n) });
    const torch = torchTimes.get(n);
    const estimate = previousFull && previousFull.ms * (n / previousFull.n) ** 3;
    if (estimate === undefined || estimate <= fullSvdBudgetMs) {
      const ms = timeMedian(() => pissaInit(weight, r, 1), {
        repeats: n <= 1024 ? 3 : 1,
        warmup: n <= 1024 ? 1 : 0,
      });
      previousFull = { n, ms };
      rows.push({
        init: "'pissa' (full SVD)",
        size: `${n}²`,
        lorakit: seconds(ms),
        torch: torch ? seconds(torch.full) : 'n/a',
        'ratio (lorakit/torch)': ratio(ms, torch?.full),
      });
    } else {
      rows.push({
        init: "'pissa' (full SVD)",
        size: `${n}²`,
        lorakit: `skipped (est. ${seconds(estimate)} > ${seconds(fullSvdBudgetMs)})`,
        torch: torch ? seconds(torch.full) : 'n/a',
        'ratio (lorakit/torch)': estimate && torch ? `~${ratio(estimate, torch.full)} (est.)` : 'n/a',
      });
    }
    const fast = timeMedian(() => pissaNiterInit(weight, r, 1, niter, { generator: new Generator(1) }), {
      repeats: 3,
      warmup: 1,
    });
    rows.push({
      init: `'pissa_niter_${niter}'`,
      size: `${n}²`,
      lorakit: seconds(fast),
      torch: torch ? seconds(torch.niter) : 'n/a',
      'ratio (lorakit/torch)': ratio(fast, torch?.niter),
    });
  }
});
printTable(
  `PiSSA init, r = ${r}: lorakit ("${getBackend().name}" backend, ${backendLabel}) vs PyTorch (${threads} threads), medians`,
  rows,
);
