/**
 * Helpers for the linear-algebra tests: the NumPy reference cases and the norms the checks use.
 * Plain loops, independent of the code under test.
 */
import { join } from 'node:path';
import { SafetensorsFile } from '@lorakit/safetensors';
import { expect } from 'vitest';
import { LinalgError } from '../errors.js';

export interface ReferenceMatrix {
  data: Float64Array;
  rows: number;
  cols: number;
}

const referencePath = join(import.meta.dirname, '..', '..', 'test-data', 'linalg', 'reference.safetensors');

/** Every tensor of test-data/linalg/reference.safetensors (written by generate.py), by name. */
export function loadReference(): Map<string, ReferenceMatrix> {
  const file = SafetensorsFile.open(referencePath);
  const out = new Map<string, ReferenceMatrix>();
  for (const name of file.names()) {
    const { data, shape } = file.readSync(name);
    if (!(data instanceof Float64Array)) throw new Error(`${name} is not float64`);
    out.set(name, { data, rows: shape[0] ?? 1, cols: shape[1] ?? 1 });
  }
  file.close();
  return out;
}

/** Row-major product of an r×k and a k×c matrix. */
export function matmul(a: Float64Array, b: Float64Array, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let l = 0; l < k; l++) {
      const x = a[i * k + l]!;
      for (let j = 0; j < c; j++) out[i * c + j] = out[i * c + j]! + x * b[l * c + j]!;
    }
  }
  return out;
}

export function transposed(a: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

export function frobenius(a: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * a[i]!;
  return Math.sqrt(sum);
}

export function frobeniusDistance(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}

/** max |a − b| over elements. */
export function maxDifference(a: Float64Array, b: Float64Array): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]! - b[i]!));
  return largest;
}

/** ‖QᵀQ − I‖_F for a rows×cols Q: how far its columns are from orthonormal. */
export function columnOrthogonalityError(q: Float64Array, rows: number, cols: number): number {
  const gram = matmul(transposed(q, rows, cols), q, cols, rows, cols);
  for (let i = 0; i < cols; i++) gram[i * cols + i] = gram[i * cols + i]! - 1;
  return frobenius(gram);
}

/** ‖QQᵀ − I‖_F for a rows×cols Q: how far its rows are from orthonormal. */
export function rowOrthogonalityError(q: Float64Array, rows: number, cols: number): number {
  return columnOrthogonalityError(transposed(q, rows, cols), cols, rows);
}

/** u·diag(s)·vh with u m×k (of a wider u with uCols columns) and vh k×n. */
export function reconstruct(
  u: Float64Array,
  uCols: number,
  s: Float64Array,
  vh: Float64Array,
  m: number,
  n: number,
): Float64Array {
  const k = s.length;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < k; l++) {
      const x = u[i * uCols + l]! * s[l]!;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + x * vh[l * n + j]!;
    }
  }
  return out;
}

/** Column `column` of a row-major matrix. */
export function column(a: Float64Array, rows: number, cols: number, column: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) out[i] = a[i * cols + column]!;
  return out;
}

/** The entry of largest magnitude, the first one on ties. */
export function largestByMagnitude(x: Float64Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (Math.abs(x[i]!) > Math.abs(x[best]!)) best = i;
  return x[best]!;
}

/** Asserts that `run` throws a LinalgError whose message is exactly `message`. */
export function expectLinalgError(run: () => unknown, message: string): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(LinalgError);
  expect((thrown as Error).message).toBe(message);
}
