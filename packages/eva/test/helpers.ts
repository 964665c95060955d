import type { Tensor } from '@lorakit/tensor';
import { expect } from 'vitest';

/**
 * max |a − e| after flipping each row of `actual` to agree in sign with `expected`: EVA components are
 * right singular vectors, unique only up to sign.
 */
export function maxErrorUpToRowSign(actual: Tensor, expected: Tensor): number {
  expect(actual.shape).toEqual(expected.shape);
  const [rows, columns] = expected.shape as [number, number];
  const a = actual.double().toArray() as Float64Array;
  const e = expected.double().toArray() as Float64Array;
  let max = 0;
  for (let row = 0; row < rows; row++) {
    let dot = 0;
    for (let c = 0; c < columns; c++) dot += a[row * columns + c]! * e[row * columns + c]!;
    const sign = dot < 0 ? -1 : 1;
    for (let c = 0; c < columns; c++)
      max = Math.max(max, Math.abs(sign * a[row * columns + c]! - e[row * columns + c]!));
  }
  return max;
}
