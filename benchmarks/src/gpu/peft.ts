/**
 * The PEFT side of a GPU benchmark row: peft_row.py in its own Python process (so its peak memory is its
 * own), bounded in time. Not `runPython` from @lorakit/bench-tools, because a row needs a timeout and its
 * progress lines streamed: a compile that hangs must not eat the rest of the run.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RowSpec, TARGETS } from './rows.js';

export interface PeftResult {
  device?: string;
  versions?: Record<string, string>;
  attention?: string;
  firstStepS?: number;
  stepsMs?: number[];
  trainMs?: number;
  peakGiB?: number;
  loss?: number;
  forwardUnmergedMs?: number;
  forwardMergedMs?: number;
  mergeMs?: number;
  error?: string;
  wallS?: number;
}

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'peft_row.py');

export function runPeftRow(
  python: string,
  row: RowSpec,
  options: {
    compiled: boolean;
    batch: number;
    sequence: number;
    steps: number;
    timeoutMs: number;
  },
): PeftResult {
  const spec = {
    config: row.config,
    batch: options.batch,
    sequence: options.sequence,
    steps: options.steps,
    // A compiled step recompiles once for the backward and the optimizer's first step: three warmups.
    warmup: options.compiled ? 3 : 2,
    checkpointing: row.checkpointing,
    dora: row.dora,
    compiled: options.compiled,
    forward: row.forward && !options.compiled,
    targets: TARGETS,
  };
  const started = performance.now();
  const child = spawnSync(python, [SCRIPT], {
    encoding: 'utf8',
    env: { ...process.env, LORAKIT_PEFT_ROW: JSON.stringify(spec) },
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  const wallS = (performance.now() - started) / 1000;
  const last = (child.stdout ?? '').trim().split('\n').at(-1) ?? '';
  let result: PeftResult = {};
  try {
    result = JSON.parse(last) as PeftResult;
  } catch {
    const why =
      child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT'
        ? `timed out after ${(options.timeoutMs / 1000).toFixed(0)} s`
        : child.error
          ? child.error.message
          : `exited with status ${child.status ?? child.signal} without a result`;
    result = { error: `PEFT process ${why}` };
  }
  return { ...result, wallS };
}
