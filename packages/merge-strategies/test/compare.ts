import type { Tensor } from '@lorakit/tensor';
import { expect } from 'vitest';

/** Max |a − e| after checking shapes; throws at the first element above atol + rtol·|e|. */
export function maxError(
  actual: Tensor,
  expectedTensor: Tensor,
  atol: number,
  rtol: number,
  label: string,
): number {
  expect(actual.shape, `${label} shape`).toEqual(expectedTensor.shape);
  const a = actual.contiguous().toArray() as Float32Array;
  const e = expectedTensor.contiguous().toArray() as Float32Array;
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const error = Math.abs(a[i]! - e[i]!);
    if (!(error <= atol + rtol * Math.abs(e[i]!))) {
      throw new Error(
        `${label}: element ${i} is ${a[i]} but expected ${e[i]} (|error| ${error} > ${atol} + ${rtol}·|expected|)`,
      );
    }
    worst = Math.max(worst, error);
  }
  return worst;
}

/**
 * Flips each rank component (row i of A with column i of B) of our factors so that it points the way of
 * the reference's row i of A: SVD factors are unique only up to these signs.
 */
export function alignSigns(a: Tensor, b: Tensor, referenceA: Tensor): { a: Tensor; b: Tensor } {
  const k = a.shape[0]!;
  const rowsOurs = a.reshape([k, -1]).contiguous().toArray() as Float32Array;
  const rowsRef = referenceA.reshape([k, -1]).contiguous().toArray() as Float32Array;
  const n = rowsOurs.length / k;
  const signs: number[] = [];
  for (let i = 0; i < k; i++) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += rowsOurs[i * n + j]! * rowsRef[i * n + j]!;
    signs.push(dot < 0 ? -1 : 1);
  }
  const flipA = a
    .reshape([k, -1])
    .mul(tensorOf(signs, [k, 1]))
    .reshape(a.shape);
  const bMatrix = b.reshape([b.shape[0]!, k]);
  const flipB = bMatrix.mul(tensorOf(signs, [1, k])).reshape(b.shape);
  return { a: flipA, b: flipB };
}

import { tensor } from '@lorakit/tensor';

function tensorOf(values: number[], shape: number[]): Tensor {
  return tensor(values, { shape });
}

/** Records max errors (or, for `zeros`, a rate) per (tag, tensor) and prints them after the suite. */
export class ErrorReport {
  readonly rows: { tag: string; tensor: string; maxError: number; tolerance: string }[] = [];
  add(tag: string, tensorName: string, maxErrorValue: number, tolerance: string): void {
    const row = this.rows.find((r) => r.tag === tag && r.tensor === tensorName);
    if (row) row.maxError = Math.max(row.maxError, maxErrorValue);
    else this.rows.push({ tag, tensor: tensorName, maxError: maxErrorValue, tolerance });
  }
  print(title: string): void {
    console.log(
      `\n${title}\n${this.rows.map((r) => `${r.tag.padEnd(22)} ${r.tensor.padEnd(8)} ${r.tensor === 'zeros' ? 'rate     ' : 'max |err|'} ${r.maxError.toExponential(2)}  (${r.tolerance})`).join('\n')}`,
    );
  }
}
