/**
 * Tensor speed against NumPy (OpenBLAS/LAPACK, LORAKIT_BENCH_THREADS threads, default 2) measured in the
 * same run: matmul GFLOP/s and SVD time at 256² and 1024², on the fastest backend installed (`cpu` from
 * @lorakit/cpu-backend when its addon is built; the first line says which) and on the JS reference
 * backend. The JS backend is the readable definition of every kernel; native backends are what make
 * lorakit fast. Never fails on timings.
 *
 * The package is imported by its name (its built `dist`), not from `../src`: @lorakit/cpu-backend
 * registers itself with that module, and a second copy of the tensor package would not see it.
 */
import {
  findReferencePython,
  printTable,
  ratio,
  runPython,
  timeMedian,
  useFastestBackend,
} from '@lorakit/bench-tools';
import { Generator, getBackend, noGrad, rand, svd, withBackend } from '@lorakit/tensor';

const { label: backendLabel } = await useFastestBackend(import.meta.url);
const fastest = getBackend().name;
const backends = fastest === 'js' ? ['js'] : [fastest, 'js'];
const sizes = [256, 1024];
const threads = process.env.LORAKIT_BENCH_THREADS ?? '2';
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
    const np_ = numpy.get(n);
    const flops = (2 * n ** 3) / 1e9;
    for (const backend of backends) {
      const { matmulMs, svdMs } = withBackend(backend, () => {
        const g = new Generator(0);
        const a = rand([n, n], { generator: g });
        const b = rand([n, n], { generator: g });
        const slow = backend === 'js' && n > 512;
        return {
          matmulMs: timeMedian(() => a.matmul(b), { repeats: slow ? 1 : 5, warmup: slow ? 0 : 1 }),
          svdMs: timeMedian(() => svd(a), {
            repeats: backend === 'js' ? 1 : 3,
            warmup: backend === 'js' ? 0 : 1,
          }),
        };
      });
      rows.push({
        size: `${n}²`,
        backend,
        'matmul GFLOP/s': (flops / (matmulMs / 1000)).toFixed(2),
        'numpy GFLOP/s': np_ ? (flops / (np_.matmul / 1000)).toFixed(1) : 'n/a',
        'matmul time ratio (lorakit/numpy)': ratio(matmulMs, np_?.matmul),
        'svd ms': svdMs.toFixed(1),
        'numpy svd ms': np_ ? np_.svd.toFixed(1) : 'n/a',
        'svd time ratio (lorakit/numpy)': ratio(svdMs, np_?.svd),
      });
    }
  }
});
printTable(
  `@lorakit/tensor, fastest backend "${fastest}" (${backendLabel}) and the JS reference backend (1 thread) vs NumPy (${threads} BLAS threads)`,
  rows,
);
