/** One compared tensor (or statistic) of a case. */
export interface Check {
  readonly name: string;
  /** Max absolute error (or the statistic's deviation). */
  readonly error: number;
  /** The bound it was held to, as text (e.g. "atol 1e-4 + rtol 1e-4·|x|"). */
  readonly bound: string;
  readonly ok: boolean;
  readonly note?: string;
}

export type Status = 'pass' | 'fail' | 'pending' | 'error';

export interface CaseResult {
  readonly name: string;
  readonly kind: string;
  readonly status: Status;
  readonly checks: readonly Check[];
  /** Why a case is pending or errored. */
  readonly reason?: string;
}

/** A case kind whose feature is not built (or whose plugin is not installed): never reported as passing. */
export class PendingError extends Error {}

export interface Tolerance {
  readonly atol: number;
  readonly rtol: number;
}

/** max |a − e| and whether every element is within atol + rtol·|e|. */
export function compareArrays(
  name: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  shapes?: { actual: readonly number[]; expected: readonly number[] },
): Check {
  const bound = `atol ${tolerance.atol} + rtol ${tolerance.rtol}·|x|`;
  if (
    shapes &&
    (shapes.actual.length !== shapes.expected.length ||
      shapes.actual.some((d, i) => d !== shapes.expected[i]))
  ) {
    return {
      name,
      error: Number.POSITIVE_INFINITY,
      bound,
      ok: false,
      note: `shape [${shapes.actual.join(', ')}] vs expected [${shapes.expected.join(', ')}]`,
    };
  }
  if (actual.length !== expected.length) {
    return {
      name,
      error: Number.POSITIVE_INFINITY,
      bound,
      ok: false,
      note: `${actual.length} values vs ${expected.length} expected`,
    };
  }
  let worst = 0;
  let ok = true;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e);
    if (!(err <= tolerance.atol + tolerance.rtol * Math.abs(e))) ok = false;
    if (!(err <= worst)) worst = err;
  }
  return { name, error: worst, bound, ok };
}

export function formatResults(results: readonly CaseResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    const head = `${r.status.toUpperCase().padEnd(7)} ${r.name} (${r.kind})`;
    lines.push(r.reason ? `${head}: ${r.reason}` : head);
    for (const c of r.checks) {
      const err = Number.isFinite(c.error) ? c.error.toExponential(2) : String(c.error);
      lines.push(
        `    ${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(58)} max err ${err.padStart(9)}  (${c.bound})${c.note ? ` — ${c.note}` : ''}`,
      );
    }
  }
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  lines.push(
    `\n${results.length} cases: ${count('pass')} passed, ${count('fail')} failed, ${count('error')} errored, ${count('pending')} pending (feature not built yet)`,
  );
  return lines.join('\n');
}
