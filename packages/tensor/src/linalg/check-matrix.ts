import { LinalgError } from '../errors.js';

/**
 * Validates the plain arguments of a host linear-algebra routine: non-negative integer dimensions, a
 * buffer of exactly rows·cols values, and only finite values (every algorithm here would otherwise
 * spread NaN silently or, worse, iterate on it without converging).
 */
export function checkMatrix(op: string, a: Float64Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new LinalgError(`[${op}] dimensions must be non-negative integers, received ${rows}×${cols}`);
  }
  if (a.length !== rows * cols) {
    throw new LinalgError(
      `[${op}] a has ${a.length} elements but a ${rows}×${cols} matrix needs ${rows * cols}`,
    );
  }
  for (let i = 0; i < a.length; i++) {
    // `x - x` is 0 for finite x and NaN for NaN and ±Infinity: one comparison per element.
    const x = a[i]!;
    if (x - x !== 0) throw new LinalgError(`[${op}] input contains NaN or Infinity`);
  }
}
