// Helpers shared by every `pnpm bench`: find the reference Python stack (the speed anchor measured in
// the same run), time functions robustly, print ratio tables. Benchmarks never fail on timings.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
