/**
 * JS reference backend speed against NumPy (OpenBLAS/LAPACK) measured in the same run: matmul GFLOP/s
 * and SVD time at 256² and 1024². The JS backend is the readable definition of every kernel; native
 * backends (`@lorakit/cpu-backend`) are what make lorakit fast.
 */
import { findReferencePython, printTable, ratio, runPython, timeMedian } from '@lorakit/bench-tools';
import { Generator, noGrad, rand, svd } from '../src/index.js';

const sizes = [256, 1024];
const threads = process.env.LORAKIT_NUM_THREADS ?? '2';
const anchor = findReferencePython(['numpy']);
const numpy = new Map<number, { matmul: number; svd: number }>();
if (anchor.python) {
  const result = runPython<Record<string, { matmul: number; svd: number }>>(
    anchor.python,
    `
import json, time, numpy as np
rng = np.random.default_rng(0)
out = {}
for n in ${JSON.stringify(sizes)}:
    a = rng.standard_normal((n, n), dtype=np.float32); b = rng.standard_normal((n, n), dtype=np.float32)
    def t(f, reps):
        f(); s = []
        for _ in range(reps):
            t0 = time.perf_counter(); f(); s.append(time.perf_counter() - t0)
        return sorted(s)[len(s)//2] * 1000
    out[n] = {"matmul": t(lambda: a @ b, 7), "svd": t(lambda: np.linalg.svd(a, full_matrices=False), 3)}
print(json.dumps(out))`,
    { OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads },
  );
  for (const [n, v] of Object.entries(result)) numpy.set(Number(n), v);
} else {
  console.log(`NumPy anchor missing: ${anchor.reason}`);
}

const rows: Record<string, string>[] = [];
noGrad(() => {
  for (const n of sizes) {
    const g = new Generator(0);
    const a = rand([n, n], { generator: g });
    const b = rand([n, n], { generator: g });
    const matmulMs = timeMedian(() => a.matmul(b), { repeats: n > 512 ? 1 : 3, warmup: n > 512 ? 0 : 1 });
    const svdMs = timeMedian(() => svd(a), { repeats: 1, warmup: 0 });
    const flops = (2 * n ** 3) / 1e9;
    const np_ = numpy.get(n);
    rows.push({
      size: `${n}²`,
      'js matmul GFLOP/s': (flops / (matmulMs / 1000)).toFixed(2),
      'numpy GFLOP/s': np_ ? (flops / (np_.matmul / 1000)).toFixed(1) : 'n/a',
      'matmul time ratio (js/numpy)': ratio(matmulMs, np_?.matmul),
      'js svd ms': svdMs.toFixed(0),
      'numpy svd ms': np_ ? np_.svd.toFixed(1) : 'n/a',
      'svd time ratio (js/numpy)': ratio(svdMs, np_?.svd),
    });
  }
});
printTable(
  `@lorakit/tensor JS backend vs NumPy (${threads} BLAS threads for NumPy; JS is single-threaded)`,
  rows,
);
