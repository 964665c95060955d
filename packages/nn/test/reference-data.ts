// Loads the PyTorch reference data written by test-data/generate.py and compares tensors with it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import { expect } from 'vitest';

const dir = join(import.meta.dirname, '..', 'test-data');

export const layersFile = SafetensorsFile.open(join(dir, 'layers.safetensors'));
export const trainingFile = SafetensorsFile.open(join(dir, 'training.safetensors'));

// biome-ignore lint/suspicious/noExplicitAny: the JSON's shape is documented in generate.py
export const reference: any = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8'));

/** A tensor of a reference file on the current default backend (I64 → int64, F32 → float32). */
export function load(file: SafetensorsFile, name: string): Tensor {
  const { data, dtype, shape } = file.readSync(name);
  if (dtype === 'I64') return tensor(data as BigInt64Array, { shape, dtype: 'int64' });
  if (dtype !== 'F32') throw new Error(`unexpected dtype ${dtype} for ${name}`);
  return tensor(data as Float32Array, { shape, dtype: 'float32' });
}

/** Names in `file` that start with `prefix`, with the prefix removed, in file order. */
export function namesUnder(file: SafetensorsFile, prefix: string): string[] {
  return file
    .names()
    .filter((n) => n.startsWith(prefix))
    .map((n) => n.slice(prefix.length));
}

/**
 * Checks shape, dtype, then every element: |actual − expected| ≤ atol + rtol·|expected|. The message
 * names the worst element.
 */
export function expectClose(
  actual: Tensor | null | undefined,
  expected: Tensor,
  label: string,
  { atol = 1e-6, rtol = 1e-6 }: { atol?: number; rtol?: number } = {},
): number {
  expect(actual, `${label}: missing`).toBeTruthy();
  expect(actual!.shape, `${label}: shape`).toEqual(expected.shape);
  expect(actual!.dtype, `${label}: dtype`).toBe(expected.dtype);
  const a = Array.from(actual!.toArray() as ArrayLike<number>, Number);
  const e = Array.from(expected.toArray() as ArrayLike<number>, Number);
  let worst = -1;
  let worstExcess = 0;
  let maxError = 0;
  for (let i = 0; i < e.length; i++) {
    const error = Math.abs(a[i]! - e[i]!);
    maxError = Math.max(maxError, error);
    const excess = error - (atol + rtol * Math.abs(e[i]!));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (process.env.LORAKIT_REPORT_ERRORS) console.log(`max error ${maxError.toExponential(2)}  ${label}`);
  if (worst >= 0) {
    expect.fail(
      `${label}: element ${worst} is ${a[worst]} but PyTorch has ${e[worst]} (error ${Math.abs(a[worst]! - e[worst]!)}, allowed ${atol} + ${rtol}·|expected|)`,
    );
  }
  return maxError;
}
