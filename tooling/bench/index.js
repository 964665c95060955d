// Helpers shared by every `pnpm bench`: find the reference Python stack (the speed anchor measured in
// the same run), time functions robustly, print ratio tables. Benchmarks never fail on timings.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '@lorakit/vitest-config/fixtures';

let cached;

/**
 * The Python interpreter of the reference stack: `LORAKIT_PYTHON`, else `.venv-ref/bin/python` at the
 * repository root, else `python3` — the first one that imports all `modules`. Returns undefined (and
 * the reason) when none does, so benchmarks can print the anchor as missing.
 */
export function findReferencePython(modules = ['numpy']) {
  const key = modules.join(',');
  cached ??= new Map();
  if (cached.has(key)) return cached.get(key);
  const candidates = [
    process.env.LORAKIT_PYTHON,
    join(repoRoot, '.venv-ref', 'bin', 'python'),
    'python3',
  ].filter(Boolean);
  let result = { python: undefined, reason: `none of ${candidates.join(', ')} imports ${key}` };
  for (const python of candidates) {
    if (python.includes('/') && !existsSync(python)) continue;
    const probe = spawnSync(python, ['-c', `import ${key}`], { encoding: 'utf8' });
    if (probe.status === 0) {
      result = { python, reason: undefined };
      break;
    }
  }
  cached.set(key, result);
  return result;
}

/**
 * Makes the fastest backend that is installed and built the default, the way an application would: by
 * importing `@lorakit/cpu-backend`, which registers the native `cpu` backend at priority 10 when its addon
 * loads (and prints one warning and registers nothing when it does not). The package is resolved from the
 * calling benchmark (`from`: its `import.meta.url`) when that package lists it as a dev dependency, else
 * from the workspace (`packages/cpu-backend`): the packages it depends on itself (tensor, nn, models, lora)
 * cannot list it without a dependency cycle, which turbo rejects. Its built entry (`dist/index.js`) is
 * imported, so run `pnpm turbo run build` first; `@lorakit/tensor` inside it resolves to the same module
 * as the benchmark's, so the registration is seen by the benchmark.
 *
 * Environment: LORAKIT_BENCH_BACKEND=js keeps the JavaScript reference backend; LORAKIT_BENCH_THREADS sets
 * the cpu backend's threads (default 2, the threads PyTorch gets in every anchor).
 *
 * Prints one line saying which backend the benchmark runs on (and why, when it falls back to JS) and
 * returns `{ backend, threads, label }`: `backend` is "cpu" or "js", `label` a short description for
 * table titles. Callers should still print `getBackend().name`, the backend new tensors really use.
 */
export async function useFastestBackend(from) {
  const threads = Number(process.env.LORAKIT_BENCH_THREADS ?? 2);
  const fallback = (reason) => {
    console.log(`backend: js (JavaScript reference backend, 1 thread): ${reason}`);
    return { backend: 'js', threads: 1, label: 'JavaScript reference, 1 thread' };
  };
  if (process.env.LORAKIT_BENCH_BACKEND === 'js') return fallback('LORAKIT_BENCH_BACKEND=js');
  let manifest;
  try {
    manifest = createRequire(from ?? import.meta.url).resolve('@lorakit/cpu-backend/package.json');
  } catch {
    const workspace = join(repoRoot, 'packages', 'cpu-backend', 'package.json');
    if (existsSync(workspace)) manifest = workspace;
  }
  if (!manifest) return fallback('@lorakit/cpu-backend is not installed');
  const entry = JSON.parse(readFileSync(manifest, 'utf8')).exports?.['.']?.import?.default;
  const entryPath = entry && join(dirname(manifest), entry);
  if (!entryPath || !existsSync(entryPath)) {
    return fallback(
      `@lorakit/cpu-backend is not built (no ${entryPath ?? 'import entry'}; run pnpm turbo run build)`,
    );
  }
  const cpu = await import(pathToFileURL(entryPath).href);
  if (!cpu.nativeAvailable)
    return fallback(`@lorakit/cpu-backend's addon did not load: ${cpu.nativeLoadError}`);
  cpu.setNumThreads(threads);
  const kernel = cpu.cpuFeatures().kernel;
  console.log(`backend: cpu (@lorakit/cpu-backend, native ${kernel} kernels, ${threads} threads)`);
  return { backend: 'cpu', threads, label: `native ${kernel} kernels, ${threads} threads` };
}

/** Runs a Python script with the reference interpreter and parses the JSON it prints last. */
export function runPython(python, script, env = {}) {
  const out = execFileSync(python, ['-c', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/**
 * A persistent reference-Python process, for anchors timed in turns with lorakit on a shared machine (one
 * long run of either side would catch a different share of the CPU). The script reads one request per
 * line on stdin and prints one JSON line per answer; its first line (printed when it is set up) is read
 * with `next()`. `threads` sets OMP/MKL/OpenBLAS threads (the script should also call
 * torch.set_num_threads). stderr passes through.
 */
/**
 * The end of a {@link PythonAnchor} script that defines a dict `tasks` of functions (and imports json,
 * sys, time): runs each task three times to warm up, prints "ready", then answers every
 * "<task> <repeats>" line with a JSON list of that many timed runs in milliseconds — the protocol
 * {@link interleave} speaks.
 */
export const ANCHOR_TASK_LOOP = `
for f in tasks.values():
    for _ in range(3): f()  # PyTorch's first runs on new shapes are several times slower
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    name, reps = line.split()
    times = []
    for _ in range(int(reps)):
        t = time.perf_counter(); tasks[name](); times.append((time.perf_counter() - t) * 1000)
    print(json.dumps(times), flush=True)
`;

export class PythonAnchor {
  #child;
  #lines;

  constructor(python, script, { threads = 2, env = {} } = {}) {
    const n = String(threads);
    this.#child = spawn(python, ['-c', script], {
      env: { ...process.env, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n, OPENBLAS_NUM_THREADS: n, ...env },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.#lines = createInterface({ input: this.#child.stdout })[Symbol.asyncIterator]();
  }

  /** The next JSON line the script prints. */
  async next() {
    const line = await this.#lines.next();
    if (line.done) throw new Error(`the Python anchor exited (code ${this.#child.exitCode})`);
    return JSON.parse(line.value);
  }

  /** Sends one request line and returns the JSON answer. */
  async request(line) {
    this.#child.stdin.write(`${line}\n`);
    return this.next();
  }

  close() {
    this.#child.stdin.end();
  }
}

/**
 * Times tasks in turns: each of `rounds` rounds runs, for every task, `repeats` timed runs of lorakit
 * (`ours(task)` returns the milliseconds of one run) and then `anchor.request("<task> <repeats>")`, which
 * must answer a JSON list of `repeats` milliseconds; a short pause before each side lets the other side's
 * spinning threads go to sleep. Returns, per task, the median of all of lorakit's runs and of the anchor's
 * (undefined without an anchor).
 */
export async function interleave({ tasks, ours, anchor, rounds = 3, repeats = 3, pauseMs = 100 }) {
  const samples = new Map(tasks.map((task) => [task, { ours: [], anchor: [] }]));
  for (let round = 0; round < rounds; round++) {
    for (const task of tasks) {
      const entry = samples.get(task);
      await sleep(pauseMs);
      for (let i = 0; i < repeats; i++) entry.ours.push(await ours(task));
      if (anchor) {
        await sleep(pauseMs);
        entry.anchor.push(...(await anchor.request(`${task} ${repeats}`)));
      }
    }
  }
  const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : undefined);
  return new Map([...samples].map(([task, s]) => [task, { ours: median(s.ours), anchor: median(s.anchor) }]));
}

/** Median wall time in ms of `fn` over `repeats` runs after `warmup` runs. */
export function timeMedian(fn, { repeats = 5, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** Async variant of {@link timeMedian}. */
export async function timeMedianAsync(fn, { repeats = 5, warmup = 1 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/** Prints rows (objects with the same keys) as an aligned text table. */
export function printTable(title, rows) {
  if (rows.length === 0) return;
  const keys = Object.keys(rows[0]);
  const cells = rows.map((r) => keys.map((k) => String(r[k] ?? '')));
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i].length)));
  console.log(`\n${title}`);
  console.log(keys.map((k, i) => k.padEnd(widths[i])).join('  '));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(c.map((v, i) => v.padStart(widths[i])).join('  '));
}

/** "1.23×" or "n/a" when the anchor is missing. */
export function ratio(ours, anchor) {
  return anchor === undefined || ours === undefined ? 'n/a' : `${(ours / anchor).toFixed(2)}×`;
}

/**
 * The Llama benchmark model every issue's benchmark uses (config.json form): vocab 4096, hidden 256,
 * intermediate 688, 4 layers, 8 heads; inputs of LLAMA_BENCH_BATCH × LLAMA_BENCH_SEQUENCE tokens.
 */
export const LLAMA_BENCH_CONFIG = Object.freeze({
  model_type: 'llama',
  vocab_size: 4096,
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  max_position_embeddings: 256,
  tie_word_embeddings: false,
});
export const LLAMA_BENCH_BATCH = 8;
export const LLAMA_BENCH_SEQUENCE = 128;
