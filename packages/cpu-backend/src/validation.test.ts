import { describe, expect, it } from 'vitest';
import { GemmArgumentError } from './errors.js';
import { dgemm, dgemmStridedBatched, sgemm, sgemmStridedBatched } from './sgemm.js';

// Validation runs before the addon is touched, so these hold with or without the native build.
const f = (length: number) => new Float32Array(length);

function message(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(GemmArgumentError);
    return (error as Error).message;
  }
  throw new Error('expected a GemmArgumentError');
}

describe('sgemm validation', () => {
  const ok = { m: 2, n: 3, k: 4, a: f(8), b: f(12), c: f(6) };

  it('checks dims and operand types', () => {
    expect(message(() => sgemm({ ...ok, m: -1 }))).toBe(
      '[sgemm] m must be a non-negative integer, received -1',
    );
    expect(message(() => sgemm({ ...ok, k: 1.5 }))).toBe(
      '[sgemm] k must be a non-negative integer, received 1.5',
    );
    expect(message(() => sgemm({ ...ok, n: '3' as unknown as number }))).toBe(
      '[sgemm] n must be a non-negative integer, received string',
    );
    expect(message(() => sgemm({ ...ok, a: new Float64Array(8) as unknown as Float32Array }))).toBe(
      '[sgemm] a must be a Float32Array, received Float64Array',
    );
    expect(message(() => sgemm({ ...ok, c: [0, 0] as unknown as Float32Array }))).toBe(
      '[sgemm] c must be a Float32Array, received Array',
    );
    expect(message(() => sgemm({ ...ok, transA: 1 as unknown as boolean }))).toBe(
      '[sgemm] transA must be a boolean, received 1',
    );
    expect(message(() => sgemm({ ...ok, alpha: Number.NaN }))).toBe(
      '[sgemm] alpha must be a number, received NaN',
    );
    expect(message(() => sgemm(null as unknown as typeof ok))).toBe(
      '[sgemm] expected an options object, received null',
    );
  });

  it('checks leading dimensions against the stored row length', () => {
    expect(message(() => sgemm({ ...ok, lda: 3 }))).toBe(
      '[sgemm] lda must be >= k when A is not transposed, received lda 3 with k 4',
    );
    expect(message(() => sgemm({ ...ok, transA: true, lda: 1 }))).toBe(
      '[sgemm] lda must be >= m when A is transposed, received lda 1 with m 2',
    );
    expect(message(() => sgemm({ ...ok, ldb: 2 }))).toBe(
      '[sgemm] ldb must be >= n when B is not transposed, received ldb 2 with n 3',
    );
    expect(message(() => sgemm({ ...ok, transB: true, ldb: 3 }))).toBe(
      '[sgemm] ldb must be >= k when B is transposed, received ldb 3 with k 4',
    );
    expect(message(() => sgemm({ ...ok, ldc: 2 }))).toBe(
      '[sgemm] ldc must be >= n for C, received ldc 2 with n 3',
    );
    expect(message(() => sgemm({ ...ok, ldc: 0 }))).toBe(
      '[sgemm] ldc must be a positive integer, received 0',
    );
  });

  it('checks array lengths against offsets and leading dimensions', () => {
    expect(message(() => sgemm({ ...ok, aOffset: 1 }))).toBe(
      '[sgemm] a is too short: A (2 × 4) with lda 4 at offset 1 needs 9 elements, but a has 8',
    );
    expect(message(() => sgemm({ ...ok, transB: true, b: f(11) }))).toBe(
      '[sgemm] b is too short: B (3 × 4) with ldb 4 at offset 0 needs 12 elements, but b has 11',
    );
    expect(message(() => sgemm({ ...ok, ldc: 5 }))).toBe(
      '[sgemm] c is too short: C (2 × 3) with ldc 5 at offset 0 needs 8 elements, but c has 6',
    );
    expect(message(() => sgemm({ ...ok, cOffset: -2 }))).toBe(
      '[sgemm] cOffset must be a non-negative integer, received -2',
    );
  });

  it('rejects C overlapping A or B', () => {
    const shared = new Float32Array(30);
    const a = shared.subarray(0, 8);
    const c = shared.subarray(6, 12);
    expect(message(() => sgemm({ ...ok, a, c }))).toBe(
      '[sgemm] c must not overlap a: they share an ArrayBuffer and their ranges intersect',
    );
    expect(message(() => sgemm({ ...ok, b: shared, bOffset: 10, c: shared, cOffset: 20 }))).toBe(
      '[sgemm] c must not overlap b: they share an ArrayBuffer and their ranges intersect',
    );
  });
});

describe('sgemmStridedBatched validation', () => {
  const ok = { m: 2, n: 3, k: 4, a: f(16), b: f(24), c: f(12), batch: 2 };

  it('checks batch and strides', () => {
    expect(message(() => sgemmStridedBatched({ ...ok, batch: -1 }))).toBe(
      '[sgemmStridedBatched] batch must be a non-negative integer, received -1',
    );
    expect(message(() => sgemmStridedBatched({ ...ok, strideC: 5 }))).toBe(
      '[sgemmStridedBatched] strideC must be >= 6 so that the 2 C matrices (2 × 3, ldc 3) do not overlap, received 5',
    );
    expect(message(() => sgemmStridedBatched({ ...ok, strideA: 9 }))).toBe(
      '[sgemmStridedBatched] a is too short: A (2 × 4) with lda 4 at offset 0, 2 matrices strideA 9 apart needs 17 elements, but a has 16',
    );
    expect(message(() => sgemmStridedBatched({ ...ok, c: f(11) }))).toBe(
      '[sgemmStridedBatched] c is too short: C (2 × 3) with ldc 3 at offset 0, 2 matrices strideC 6 apart needs 12 elements, but c has 11',
    );
  });
});

describe('dgemm validation', () => {
  const d = (length: number) => new Float64Array(length);
  const ok = { m: 2, n: 3, k: 4, a: d(8), b: d(12), c: d(6) };

  it('wants Float64Arrays and checks dims and scalars like sgemm', () => {
    expect(message(() => dgemm({ ...ok, a: f(8) as unknown as Float64Array }))).toBe(
      '[dgemm] a must be a Float64Array, received Float32Array',
    );
    expect(message(() => dgemm({ ...ok, c: [0] as unknown as Float64Array }))).toBe(
      '[dgemm] c must be a Float64Array, received Array',
    );
    expect(message(() => dgemm({ ...ok, m: -1 }))).toBe(
      '[dgemm] m must be a non-negative integer, received -1',
    );
    expect(message(() => dgemm({ ...ok, beta: Number.NaN }))).toBe(
      '[dgemm] beta must be a number, received NaN',
    );
    expect(message(() => dgemm({ ...ok, transB: true, ldb: 3 }))).toBe(
      '[dgemm] ldb must be >= k when B is transposed, received ldb 3 with k 4',
    );
  });

  it('checks buffer lengths and overlap in doubles', () => {
    expect(message(() => dgemm({ ...ok, aOffset: 1 }))).toBe(
      '[dgemm] a is too short: A (2 × 4) with lda 4 at offset 1 needs 9 elements, but a has 8',
    );
    expect(message(() => dgemm({ ...ok, ldc: 5 }))).toBe(
      '[dgemm] c is too short: C (2 × 3) with ldc 5 at offset 0 needs 8 elements, but c has 6',
    );
    // Byte ranges: a at doubles [0, 8), c at doubles [7, 13) of one buffer intersect.
    const buffer = new ArrayBuffer(8 * 13);
    const a = new Float64Array(buffer, 0, 8);
    const c = new Float64Array(buffer, 8 * 7, 6);
    expect(message(() => dgemm({ ...ok, a, c }))).toBe(
      '[dgemm] c must not overlap a: they share an ArrayBuffer and their ranges intersect',
    );
    // Adjacent, not overlapping: accepted by validation.
    const apart = new Float64Array(buffer, 8 * 8, 5);
    expect(message(() => dgemm({ ...ok, a, c: apart }))).toBe(
      '[dgemm] c is too short: C (2 × 3) with ldc 3 at offset 0 needs 6 elements, but c has 5',
    );
  });

  it('checks batch strides', () => {
    const batched = { ...ok, a: d(16), b: d(24), c: d(12), batch: 2 };
    expect(message(() => dgemmStridedBatched({ ...batched, strideC: 5 }))).toBe(
      '[dgemmStridedBatched] strideC must be >= 6 so that the 2 C matrices (2 × 3, ldc 3) do not overlap, received 5',
    );
    expect(message(() => dgemmStridedBatched({ ...batched, b: d(23) }))).toBe(
      '[dgemmStridedBatched] b is too short: B (4 × 3) with ldb 3 at offset 0, 2 matrices strideB 12 apart needs 24 elements, but b has 23',
    );
    expect(message(() => dgemmStridedBatched({ ...batched, batch: 1.5 }))).toBe(
      '[dgemmStridedBatched] batch must be a non-negative integer, received 1.5',
    );
  });
});
