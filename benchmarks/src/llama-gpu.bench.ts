/**
 * The GPU benchmark of "GPU training at full speed" (issue 16): every row of its table in one run, on one
 * card, lorakit on the `cuda` backend against PEFT 0.21 eager and under torch.compile, with the same
 * config, initialization seed and inputs (random weights and tokens; the values differ between the
 * sides, the shapes and dtypes do not). Rows (LORAKIT_GPU_BENCH_ROWS, comma-separated, default all):
 *   llama            Llama 0.94 B (hidden 2048, ffn 5504, 16 layers, 16 heads, vocab 32000), LoRA r=16 on
 *                    all seven projections, AdamW, batch 8 × 1024; also the forward unmerged vs merged and
 *                    merge_and_unload
 *   llama-checkpoint the same with gradient checkpointing
 *   llama-dora       the same with DoRA
 *   qwen             Qwen2.5-0.5B's shape (hidden 896, ffn 4864, 24 layers, 14/2 heads, vocab 151936,
 *                    tied embeddings, q/k/v bias, rope_theta 1e6)
 * Each row reports the median step ms, tokens/s and peak GiB of each side, the ratios ours/PEFT eager and
 * ours/PEFT compiled, and the issue's goal; lorakit rows also print a profile of one step (kernel times,
 * gaps, host time; LORAKIT_GPU_BENCH_PROFILE=0 turns it off). All lorakit rows run first in this process
 * (each disposes its model before the next), then each PEFT row in its own Python process: eager rows,
 * then compiled rows, each compiled row only while LORAKIT_GPU_BENCH_BUDGET_S (default 540) leaves at
 * least 150 s. Progress lines carry timestamps; LORAKIT_BENCH_JSON is rewritten after every row.
 *
 * Other settings: LORAKIT_GPU_BENCH_DTYPE (lorakit's weights, default bfloat16), _STEPS (timed steps,
 * default 5), _BATCH, _SEQUENCE, _LAYERS (a smaller model for a quick run), _PEFT (eager,compiled; none
 * skips PEFT), _COMPILE_ROWS (rows with a compiled PEFT side, default all selected). Never fails on a
 * timing; a row that fails reports its error and the run goes on.
 */
import { findReferencePython } from '@lorakit/bench-tools';
import { type Dtype, getBackend, setDefaultBackend } from '@lorakit/tensor';
import { runLorakitRow } from './gpu/lorakit-row.js';
import { runPeftRow } from './gpu/peft.js';
import { type BenchResults, printResults, writeResults } from './gpu/report.js';
import { type RowName, selectedRows } from './gpu/rows.js';

const started = performance.now();
const elapsedS = () => (performance.now() - started) / 1000;
const log = (message: string) =>
  console.log(`[${new Date().toISOString().slice(11, 19)} +${elapsedS().toFixed(0)}s] ${message}`);

const cuda = (await import('@lorakit/cuda-backend')) as typeof import('@lorakit/cuda-backend');
if (cuda.unavailableReason !== undefined) {
  console.log(`GPU benchmark skipped: ${cuda.unavailableReason}`);
  process.exit(0);
}
setDefaultBackend('cuda');
const card = (getBackend('cuda') as unknown as { describe(): string }).describe();
log(`lorakit GPU: ${card}`);

const BATCH = Number(process.env.LORAKIT_GPU_BENCH_BATCH ?? 8);
const SEQUENCE = Number(process.env.LORAKIT_GPU_BENCH_SEQUENCE ?? 1024);
const STEPS = Number(process.env.LORAKIT_GPU_BENCH_STEPS ?? 5);
const DTYPE = (process.env.LORAKIT_GPU_BENCH_DTYPE ?? 'bfloat16') as Dtype;
const BUDGET_S = Number(process.env.LORAKIT_GPU_BENCH_BUDGET_S ?? 540);
const PROFILE = process.env.LORAKIT_GPU_BENCH_PROFILE !== '0';
const PEFT_SIDES = (process.env.LORAKIT_GPU_BENCH_PEFT ?? 'eager,compiled').split(',');
const rows = selectedRows();
const compileRows = new Set(
  process.env.LORAKIT_GPU_BENCH_COMPILE_ROWS
    ? selectedRows(process.env.LORAKIT_GPU_BENCH_COMPILE_ROWS).map((r) => r.name)
    : rows.map((r) => r.name),
);

const results: BenchResults = {
  startedAt: new Date().toISOString(),
  card: { lorakit: card },
  batch: BATCH,
  sequence: SEQUENCE,
  steps: STEPS,
  budgetS: BUDGET_S,
  elapsedS: 0,
  finished: false,
  rows: {},
  notes: [],
};
for (const row of rows) results.rows[row.name] = { title: row.title, goal: row.goal.text };
const save = () => {
  results.elapsedS = elapsedS();
  writeResults(results);
};
save();

for (const row of rows) {
  log(`lorakit ${row.name} (${DTYPE}): ${row.title}`);
  results.rows[row.name]!.lorakit = runLorakitRow(cuda, row, {
    dtype: DTYPE,
    batch: BATCH,
    sequence: SEQUENCE,
    steps: STEPS,
    profile: PROFILE,
    log: (message) => log(`  lorakit ${row.name}: ${message}`),
  });
  save();
}

const { python, reason } = PEFT_SIDES.includes('none')
  ? { python: undefined, reason: 'LORAKIT_GPU_BENCH_PEFT=none' }
  : findReferencePython(['torch', 'transformers', 'peft']);
if (!python) {
  results.notes.push(`PEFT rows skipped: ${reason}`);
  log(`PEFT rows skipped: ${reason}`);
} else {
  log(`PEFT rows with ${python}`);
  const peftRow = (name: RowName, compiled: boolean, limitS: number) => {
    const row = rows.find((r) => r.name === name)!;
    const remaining = BUDGET_S - elapsedS() - 10;
    const label = `PEFT ${compiled ? 'compiled' : 'eager'} ${name}`;
    if (remaining < (compiled ? 150 : 45)) {
      const note = `${label} skipped: ${remaining.toFixed(0)} s of the ${BUDGET_S} s budget left`;
      results.notes.push(note);
      log(note);
      return;
    }
    log(`${label}: starting (limit ${Math.min(limitS, remaining).toFixed(0)} s)`);
    const result = runPeftRow(python, row, {
      compiled,
      batch: BATCH,
      sequence: SEQUENCE,
      steps: STEPS,
      timeoutMs: Math.min(limitS, remaining) * 1000,
    });
    results.card.peft ??= result.device;
    results.rows[name]![compiled ? 'peftCompiled' : 'peftEager'] = result;
    log(
      `${label}: ${result.error ? `FAILED: ${result.error}` : `${result.trainMs?.toFixed(1)} ms, ${result.peakGiB?.toFixed(2)} GiB`} (${result.wallS?.toFixed(0)} s in all${result.firstStepS ? `, first step ${result.firstStepS.toFixed(0)} s` : ''})`,
    );
    save();
  };
  if (PEFT_SIDES.includes('eager')) for (const row of rows) peftRow(row.name, false, 150);
  if (PEFT_SIDES.includes('compiled'))
    for (const row of rows) if (compileRows.has(row.name)) peftRow(row.name, true, 240);
}

results.finished = true;
save();
printResults(results, BATCH * SEQUENCE);
log('done');
