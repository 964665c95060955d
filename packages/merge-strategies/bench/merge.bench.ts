/**
 * Merging two r=16 adapters over q_proj, v_proj of `--layers` layers (4096×4096 each) with `ties_svd`
 * (density 0.5), lorakit's combineAdapterFiles against PEFT's add_weighted_adapter on the reference Python
 * stack (torch CPU, 2 threads) measured in the same run; time for read + merge + write and the peak RSS of
 * each side's own process (process.resourceUsage().maxRSS / ru_maxrss). "CPU s" is each process's CPU
 * time (all threads, start-up and imports included): on a shared machine CPU time is steadier than wall
 * time. lorakit runs on the fastest backend installed (`cpu` from @lorakit/cpu-backend with 2 threads
 * when its addon is built, else the single-threaded JS reference backend; the table says which).
 *
 * The delta of a pruned merge is full rank, so the exact truncated SVD is a full SVD of a 4096×4096
 * matrix per module: LAPACK does it in about 10 s on 2 cores, the cpu backend in about 25 s, the JS
 * backend in minutes. lorakit therefore runs ties_svd twice: with `svdMethod: 'randomized'` on every
 * layer, and exactly on `--exact-layers` layers only (per-module times compare). The `svd` type has a
 * low-rank delta and runs exactly through the factors (QR + a small core SVD) on every layer; PEFT's full
 * SVD runs on `--svd-peft-layers`. The last column is the relative Frobenius error of lorakit's merged ΔW
 * against PEFT's on the first modules.
 *
 * The default is 2 layers (4 modules; PEFT's ties_svd takes about a minute of it on 2 cores) and PEFT's
 * `svd` on 1 layer, so that `pnpm bench` finishes in minutes. LORAKIT_BENCH_LARGE=1 runs the 7B-sized
 * case of 32 layers (64 modules) and PEFT's `svd` on 2; PEFT's ties_svd alone then takes 10-15 minutes
 * on 2 cores (`LORAKIT_BENCH_LARGE=1 pnpm bench` works: turbo.json passes LORAKIT_* through). Flags
 * override either when the file runs directly:
 *
 *   node --import tsx bench/merge.bench.ts [--layers 2] [--dim 4096] [--rank 16] [--density 0.5]
 *        [--exact-layers 1] [--svd-peft-layers 1] [--check-modules 2]
 *
 * Never fails on timings.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { parseArgs } from 'node:util';
import { findReferencePython, printTable, ratio, runPython } from '@lorakit/bench-tools';
import { KEY_PREFIX, WEIGHTS_NAME } from '@lorakit/lora';
import { SafetensorsFile } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import type { CombineAdapterFilesOptions } from '../src/index.js';
import { benchModules, writeRandomAdapter } from './random-adapters.js';

const large = process.env.LORAKIT_BENCH_LARGE === '1';
const { values: args } = parseArgs({
  options: {
    layers: { type: 'string', default: large ? '32' : '2' },
    dim: { type: 'string', default: '4096' },
    rank: { type: 'string', default: '16' },
    density: { type: 'string', default: '0.5' },
    'exact-layers': { type: 'string', default: '1' },
    'svd-peft-layers': { type: 'string', default: large ? '2' : '1' },
    'check-modules': { type: 'string', default: '2' },
  },
});
const layers = Number(args.layers);
const dim = Number(args.dim);
const rank = Number(args.rank);
const density = Number(args.density);
const exactLayers = Number(args['exact-layers']);
const svdPeftLayers = Number(args['svd-peft-layers']);
const checkModules = Number(args['check-modules']);
const weights = [0.7, 0.5];
const here = import.meta.dirname;
const scratch = mkdtempSync(join(tmpdir(), 'lorakit-merge-bench-'));

/** The backend the lorakit child processes ran on, as they report it. */
let lorakitBackend = 'n/a';

interface Run {
  readonly impl: 'lorakit' | 'PEFT';
  readonly type: string;
  readonly method: string;
  readonly layers: number;
  readonly out: string;
  ms?: number;
  cpuMs?: number;
  rssMb?: number;
}

/** Two random adapters (r = rank, alpha 2r and r) over `n` layers, written once per layer count. */
const adapterSets = new Map<number, string[]>();
async function adapters(n: number): Promise<string[]> {
  const existing = adapterSets.get(n);
  if (existing) return existing;
  const dirs = [join(scratch, `a-${n}`), join(scratch, `b-${n}`)];
  await writeRandomAdapter(dirs[0]!, { layers: n, dim, r: rank, alpha: 2 * rank, seed: 1 });
  await writeRandomAdapter(dirs[1]!, { layers: n, dim, r: rank, alpha: rank, seed: 2 });
  adapterSets.set(n, dirs);
  return dirs;
}

async function runLorakit(run: Run, options: CombineAdapterFilesOptions['options']): Promise<void> {
  const request: CombineAdapterFilesOptions = {
    adapters: await adapters(run.layers),
    weights,
    type: run.type,
    options,
    outDir: run.out,
  };
  const output = execFileSync(
    process.execPath,
    [
      '--conditions=@lorakit/source',
      '--import',
      'tsx',
      join(here, 'merge-child.ts'),
      JSON.stringify(request),
    ],
    { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
  );
  const result = JSON.parse(output.trim().split('\n').pop()!) as {
    ms: number;
    cpuMs: number;
    maxRssMb: number;
    backend: string;
  };
  lorakitBackend = result.backend;
  run.ms = result.ms;
  run.cpuMs = result.cpuMs;
  run.rssMb = result.maxRssMb;
}

async function runPeft(python: string, run: Run): Promise<void> {
  const result = runPython<{
    load_ms: number;
    merge_ms: number;
    save_ms: number;
    cpu_ms: number;
    max_rss_mb: number;
  }>(python, (await import('node:fs')).readFileSync(join(here, 'peft_merge.py'), 'utf8'), {
    ADAPTERS: (await adapters(run.layers)).join(delimiter),
    WEIGHTS: weights.join(','),
    LAYERS: String(run.layers),
    DIM: String(dim),
    TYPE: run.type,
    DENSITY: run.type === 'svd' ? '' : String(density),
    HF_HUB_OFFLINE: '1',
    OUT: run.out,
    OMP_NUM_THREADS: '2',
  });
  run.ms = result.load_ms + result.merge_ms + result.save_ms;
  run.cpuMs = result.cpu_ms;
  run.rssMb = result.max_rss_mb;
}

/** ΔW = B·A of the first `count` modules of a merged adapter. */
function deltas(file: string, count: number): Tensor[] {
  const reader = SafetensorsFile.open(file);
  try {
    return benchModules(layers)
      .slice(0, count)
      .map((path) => {
        const read = (key: string) => {
          const { data, shape } = reader.readSync(`${KEY_PREFIX}${path}.${key}`);
          return tensor(data as Float32Array, { shape });
        };
        return read('lora_B.weight').matmul(read('lora_A.weight'));
      });
  } finally {
    reader.close();
  }
}

function relativeError(ours: readonly Tensor[], reference: readonly Tensor[]): number {
  let difference = 0;
  let norm = 0;
  ours.forEach((d, i) => {
    difference += d.sub(reference[i]!).square().sum().item();
    norm += reference[i]!.square().sum().item();
  });
  return Math.sqrt(difference / norm);
}

const peftAnchor = findReferencePython(['torch', 'peft']);
const runs: Run[] = [
  { impl: 'PEFT', type: 'ties_svd', method: 'full SVD (LAPACK)', layers, out: join(scratch, 'peft-ties') },
  {
    impl: 'lorakit',
    type: 'ties_svd',
    method: 'randomized SVD',
    layers,
    out: join(scratch, 'ours-ties-rand'),
  },
  {
    impl: 'lorakit',
    type: 'ties_svd',
    method: 'full SVD (exact)',
    layers: exactLayers,
    out: join(scratch, 'ours-ties'),
  },
  {
    impl: 'PEFT',
    type: 'svd',
    method: 'full SVD (LAPACK)',
    layers: svdPeftLayers,
    out: join(scratch, 'peft-svd'),
  },
  { impl: 'lorakit', type: 'svd', method: 'low-rank exact', layers, out: join(scratch, 'ours-svd') },
];
console.log(
  `merging 2 adapters (r=${rank}) over ${layers} layers × q_proj, v_proj (${dim}×${dim}), density ${density}; scratch ${scratch}`,
);
try {
  for (const run of runs) {
    const started = performance.now();
    if (run.impl === 'PEFT') {
      if (!peftAnchor.python) continue;
      await runPeft(peftAnchor.python, run);
    } else {
      await runLorakit(run, {
        density,
        ...(run.method === 'randomized SVD' && { svdMethod: 'randomized' as const }),
      });
    }
    console.log(
      `  ${run.impl} ${run.type} (${run.method}), ${run.layers} layers: ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  if (!peftAnchor.python) console.log(`PEFT anchor missing: ${peftAnchor.reason}`);

  const peftOf = (type: string) =>
    runs.find((r) => r.impl === 'PEFT' && r.type === type && r.ms !== undefined);
  const rows = runs
    .filter((run) => run.ms !== undefined)
    .map((run) => {
      const modules = 2 * run.layers;
      const anchor = peftOf(run.type);
      const perModule = run.ms! / modules;
      let error = '';
      if (run.impl === 'lorakit' && anchor) {
        const count = Math.min(checkModules, modules, 2 * anchor.layers);
        const peftFile = join(anchor.out, 'merged', WEIGHTS_NAME);
        error = relativeError(
          deltas(join(run.out, WEIGHTS_NAME), count),
          deltas(peftFile, count),
        ).toExponential(1);
      }
      return {
        type: run.type,
        implementation: `${run.impl}: ${run.method}`,
        modules,
        'time s': (run.ms! / 1000).toFixed(1),
        's / module': (perModule / 1000).toFixed(2),
        'vs PEFT / module':
          run.impl === 'PEFT' ? '1.00×' : ratio(perModule, anchor && anchor.ms! / (2 * anchor.layers)),
        'CPU s': (run.cpuMs! / 1000).toFixed(1),
        'peak RSS MB': run.rssMb!.toFixed(0),
        'rel. error ΔW vs PEFT': error,
      };
    });
  printTable(
    `add_weighted_adapter: read two adapters, merge, write (each side in its own process); lorakit on ${lorakitBackend}, PEFT on PyTorch CPU with 2 threads`,
    rows,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
