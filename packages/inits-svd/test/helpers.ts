import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import { expect } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Every tensor of a safetensors file (int64 as int64, floats as float32). */
export function readAll(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  const out = new Map<string, Tensor>();
  for (const name of file.names()) {
    const { data, dtype, shape } = file.readSync(name);
    out.set(
      name,
      dtype === 'I64'
        ? tensor(data as BigInt64Array, { shape, dtype: 'int64' })
        : tensor(data as Float32Array, { shape }),
    );
  }
  file.close();
  return out;
}

/** The NumPy/PEFT reference data made by test/make_references.py. */
export function references(): {
  tensors: Map<string, Tensor>;
  cases: Record<string, Record<string, number | string>>;
} {
  return {
    tensors: readAll(join(here, 'references.safetensors')),
    cases: JSON.parse(readFileSync(join(here, 'references.json'), 'utf8')).cases,
  };
}

/** max |a − b| after checking shapes. */
export function maxError(actual: Tensor, expected: Tensor): number {
  expect(actual.shape).toEqual(expected.shape);
  return actual.double().sub(expected.double()).abs().max().item();
}

/** Expects max |a − b| ≤ atol and returns it. */
export function expectClose(actual: Tensor, expected: Tensor, atol: number, label = ''): number {
  const error = maxError(actual, expected);
  expect(error, `${label} max error ${error} > ${atol}`).toBeLessThanOrEqual(atol);
  return error;
}

/**
 * max |a − b| when each component (rows for dim 0, columns for dim 1) may have the opposite sign:
 * every component of `actual` is flipped to agree with `expected` first.
 */
export function maxErrorUpToSign(actual: Tensor, expected: Tensor, dim: 0 | 1): number {
  expect(actual.shape).toEqual(expected.shape);
  const a = actual.double();
  const e = expected.double();
  const agreement = a.mul(e).sum(1 - dim, true);
  const signs = agreement.ge(0).double().mul(2).sub(1);
  return a.mul(signs).sub(e).abs().max().item();
}

export function expectCloseUpToSign(
  actual: Tensor,
  expected: Tensor,
  dim: 0 | 1,
  atol: number,
  label = '',
): number {
  const error = maxErrorUpToSign(actual, expected, dim);
  expect(error, `${label} max error ${error} > ${atol} (up to sign)`).toBeLessThanOrEqual(atol);
  return error;
}
