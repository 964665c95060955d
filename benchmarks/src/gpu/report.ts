/**
 * The GPU benchmark's results as one JSON document (rewritten after every measured row, so that a run cut
 * short keeps what it measured) and as tables: per row ours against PEFT eager and compiled with the
 * ratios and the issue's goal, and the forward/merge rows.
 */
import { writeFileSync } from 'node:fs';
import { printTable } from '@lorakit/bench-tools';
import type { LorakitResult } from './lorakit-row.js';
import type { PeftResult } from './peft.js';
import { FORWARD_GOAL, ROWS, type RowName, type RowSpec } from './rows.js';

export interface RowResult {
  title: string;
  /** Tokens per second of each side and ours/PEFT step-time ratios (filled in by writeResults). */
  tokensPerSecond?: { lorakit?: number; peftEager?: number; peftCompiled?: number };
  oursOverPeftEager?: number;
  oursOverPeftCompiled?: number;
  lorakit?: LorakitResult;
  peftEager?: PeftResult;
  peftCompiled?: PeftResult;
  goal: string;
  verdict?: string;
}

export interface BenchResults {
  startedAt: string;
  card: { lorakit: string; peft?: string };
  batch: number;
  sequence: number;
  steps: number;
  budgetS: number;
  elapsedS: number;
  finished: boolean;
  rows: Partial<Record<RowName, RowResult>>;
  notes: string[];
}

const fixed = (x: number | undefined, digits = 1) => (x === undefined ? '' : x.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined ? '' : `${(a / b).toFixed(2)}×`;

/** Whether our side of a row meets the issue's goal, and by how much it misses. */
export function verdict(spec: RowSpec, results: BenchResults): string {
  const ours = results.rows[spec.name]?.lorakit;
  if (!ours?.trainMs || ours.peakGiB === undefined) return ours?.error ? 'failed' : 'not measured';
  const goal = spec.goal;
  const reference = goal.relativeTo ? results.rows[goal.relativeTo.row]?.lorakit?.trainMs : undefined;
  const targetMs = goal.ms ?? (reference === undefined ? undefined : reference * goal.relativeTo!.factor);
  const parts: string[] = [];
  if (targetMs === undefined) parts.push(`time: no ${goal.relativeTo?.row} row to compare with`);
  else if (ours.trainMs > targetMs)
    parts.push(`time ${((ours.trainMs / targetMs - 1) * 100).toFixed(0)}% over ${targetMs.toFixed(0)} ms`);
  if (ours.peakGiB > goal.gib)
    parts.push(`memory ${((ours.peakGiB / goal.gib - 1) * 100).toFixed(0)}% over ${goal.gib} GiB`);
  return parts.length === 0 ? 'met' : `missed: ${parts.join(', ')}`;
}

export function writeResults(results: BenchResults, path = process.env.LORAKIT_BENCH_JSON): void {
  const tokens = results.batch * results.sequence;
  const perSecond = (ms: number | undefined) => (ms ? (tokens / ms) * 1000 : undefined);
  const over = (a: number | undefined, b: number | undefined) => (a && b ? a / b : undefined);
  for (const [name, row] of Object.entries(results.rows)) {
    row.verdict = verdict(ROWS[name as RowName], results);
    row.tokensPerSecond = {
      lorakit: perSecond(row.lorakit?.trainMs),
      peftEager: perSecond(row.peftEager?.trainMs),
      peftCompiled: perSecond(row.peftCompiled?.trainMs),
    };
    row.oursOverPeftEager = over(row.lorakit?.trainMs, row.peftEager?.trainMs);
    row.oursOverPeftCompiled = over(row.lorakit?.trainMs, row.peftCompiled?.trainMs);
  }
  if (path) writeFileSync(path, JSON.stringify(results, null, 2));
}

export function printResults(results: BenchResults, tokens: number): void {
  const table = Object.entries(results.rows).map(([name, r]) => {
    const ours = r.lorakit;
    const anchor = ROWS[name as RowName].anchor;
    return {
      row: r.title,
      'ours ms': ours?.error && !ours.trainMs ? 'failed' : fixed(ours?.trainMs),
      'ours GiB': fixed(ours?.peakGiB),
      'ours tok/s': ours?.trainMs ? ((tokens / ours.trainMs) * 1000).toFixed(0) : '',
      'eager ms':
        r.peftEager?.trainMs !== undefined ? fixed(r.peftEager.trainMs) : r.peftEager?.error ? 'failed' : '',
      'eager GiB': fixed(r.peftEager?.peakGiB),
      'compiled ms':
        r.peftCompiled?.trainMs !== undefined
          ? fixed(r.peftCompiled.trainMs)
          : r.peftCompiled?.error
            ? 'failed'
            : '',
      'compiled GiB': fixed(r.peftCompiled?.peakGiB),
      'ours/eager': ratio(ours?.trainMs, r.peftEager?.trainMs),
      'ours/compiled': ratio(ours?.trainMs, r.peftCompiled?.trainMs),
      'issue anchor (eager; compiled)': `${anchor.eager[0]} ms ${anchor.eager[1]} GiB${anchor.compiled ? `; ${anchor.compiled[0]} ms ${anchor.compiled[1]} GiB` : ''}`,
      goal: r.goal,
      verdict: r.verdict ?? '',
    };
  });
  printTable(
    `GPU training step, batch ${results.batch}×${results.sequence}, AdamW, r=16 all seven projections; lorakit on ${results.card.lorakit}, PEFT on ${results.card.peft ?? '(not run)'}`,
    table,
  );
  const forward = results.rows.llama;
  if (
    forward?.lorakit?.forwardUnmergedMs !== undefined ||
    forward?.peftEager?.forwardUnmergedMs !== undefined
  ) {
    const side = (label: string, r: LorakitResult | PeftResult | undefined) => ({
      side: label,
      'forward unmerged ms': fixed(r?.forwardUnmergedMs),
      'forward merged ms': fixed(r?.forwardMergedMs),
      'unmerged/merged': ratio(r?.forwardUnmergedMs, r?.forwardMergedMs),
      'merge_and_unload ms': fixed(r?.mergeMs),
      goal:
        r?.forwardUnmergedMs === undefined || r.forwardMergedMs === undefined || r.mergeMs === undefined
          ? ''
          : [
              r.forwardUnmergedMs <= FORWARD_GOAL.unmergedOverMerged * r.forwardMergedMs
                ? 'forward met'
                : 'forward missed',
              r.mergeMs <= FORWARD_GOAL.mergeMs ? 'merge met' : 'merge missed',
            ].join(', '),
    });
    printTable(
      `Forward of the 0.94 B Llama (no grad), adapter unmerged vs merged; goal ≤ ${FORWARD_GOAL.unmergedOverMerged}× merged, merge ≤ ${FORWARD_GOAL.mergeMs} ms (PEFT on an H200: 79 vs 44 ms, merge 58 ms)`,
      [side('lorakit', forward.lorakit), side('PEFT eager', forward.peftEager)],
    );
  }
  for (const [name, r] of Object.entries(results.rows)) {
    for (const [label, e] of [
      ['lorakit', r.lorakit?.error],
      ['PEFT eager', r.peftEager?.error],
      ['PEFT compiled', r.peftCompiled?.error],
    ] as const)
      if (e) console.log(`${name} ${label} error: ${e}`);
  }
  for (const note of results.notes) console.log(`note: ${note}`);
}
