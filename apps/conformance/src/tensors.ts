import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { type Check, compareArrays, type Tolerance } from './report.js';

/** Every tensor of a safetensors file (int64 stays int64; see @lorakit/tensor's readTensorFile). */
export const readTensors = (path: string): Map<string, Tensor> => readTensorFile(path);

export function toleranceOf(
  spec: { atol?: number; rtol?: number },
  fallback: Tolerance = { atol: 1e-4, rtol: 1e-4 },
): Tolerance {
  return { atol: spec.atol ?? fallback.atol, rtol: spec.rtol ?? fallback.rtol };
}

export function compareTensors(name: string, actual: Tensor, expected: Tensor, tolerance: Tolerance): Check {
  return compareArrays(
    name,
    actual.toArray() as Float32Array,
    expected.toArray() as Float32Array,
    tolerance,
    {
      actual: actual.shape,
      expected: expected.shape,
    },
  );
}

/**
 * Compares factor matrices up to the sign of each rank component (SVD/QR factors are unique only up to
 * sign): component k is row k of A and column k of B.
 */
export function compareUpToSign(
  name: string,
  actual: Tensor,
  expected: Tensor,
  axis: 0 | 1,
  tolerance: Tolerance,
): Check {
  if (actual.shape.join() !== expected.shape.join()) return compareTensors(name, actual, expected, tolerance);
  const a = actual.toArray() as Float32Array;
  const e = expected.toArray() as Float32Array;
  const [rows, cols] = actual.shape as [number, number];
  const flipped = Float32Array.from(a);
  const components = axis === 0 ? rows : cols;
  for (let k = 0; k < components; k++) {
    let dot = 0;
    const length = axis === 0 ? cols : rows;
    for (let i = 0; i < length; i++) {
      const idx = axis === 0 ? k * cols + i : i * cols + k;
      dot += a[idx]! * e[idx]!;
    }
    if (dot < 0) {
      for (let i = 0; i < length; i++) {
        const idx = axis === 0 ? k * cols + i : i * cols + k;
        flipped[idx] = -flipped[idx]!;
      }
    }
  }
  const check = compareArrays(name, flipped, e, tolerance);
  return { ...check, note: 'up to the sign of each rank component' };
}
