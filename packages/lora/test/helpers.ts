import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { expect } from 'vitest';

/** Every tensor of a safetensors file (see @lorakit/tensor's readTensorFile). */
export const readAll = readTensorFile;

/** Max |a − b| after checking shapes; fails when above atol + rtol·|b|. */
export function expectClose(
  actual: Tensor,
  expected: Tensor,
  atol: number,
  rtol: number,
  label: string,
): number {
  expect(actual.shape, `${label} shape`).toEqual(expected.shape);
  const a = actual.toArray() as Float32Array;
  const e = expected.toArray() as Float32Array;
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const err = Math.abs(a[i]! - e[i]!);
    worst = Math.max(worst, err);
    if (!(err <= atol + rtol * Math.abs(e[i]!))) {
      throw new Error(
        `${label}: element ${i} is ${a[i]} but expected ${e[i]} (|err| ${err} > ${atol} + ${rtol}·|expected|)`,
      );
    }
  }
  return worst;
}
