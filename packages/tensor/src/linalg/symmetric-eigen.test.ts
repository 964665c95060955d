import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eighHost } from './host.js';
import { eighWithSweepLimit } from './symmetric-eigen.js';
import {
  column,
  columnOrthogonalityError,
  expectLinalgError,
  frobenius,
  frobeniusDistance,
  largestByMagnitude,
  loadReference,
  matmul,
  maxDifference,
} from './test-helpers.js';

const reference = loadReference();

/** Ascending values, orthonormal columns, A·V = V·Λ, signs; `a` must be symmetric. */
function checkEigh(
  a: Float64Array,
  n: number,
  tolerance = 1e-12,
): { values: Float64Array; vectors: Float64Array } {
  const { values, vectors } = eighHost(a, n);
  expect([values.length, vectors.length]).toEqual([n, n * n]);
  for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]!);
  expect(columnOrthogonalityError(vectors, n, n)).toBeLessThan(tolerance);
  const scaled = vectors.slice();
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] = scaled[i * n + j]! * values[j]!;
  expect(frobeniusDistance(matmul(a, vectors, n, n, n), scaled)).toBeLessThanOrEqual(
    tolerance * frobenius(a),
  );
  for (let j = 0; j < n; j++) expect(largestByMagnitude(column(vectors, n, n, j))).toBeGreaterThan(0);
  return { values, vectors };
}

function symmetrize(values: readonly number[], n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = (values[i * n + j]! + values[j * n + i]!) / 2;
  }
  return a;
}

describe('eighHost against NumPy', () => {
  for (const name of ['repeated_10x10', 'random_30x30']) {
    it(`${name}: eigenvalues equal numpy.linalg.eigh, A·v = λ·v, orthonormal, signs`, () => {
      const { data: a, rows: n } = reference.get(`${name}.a`)!;
      const before = a.slice();
      const { values } = checkEigh(a, n);
      expect(a).toEqual(before);
      const expected = reference.get(`${name}.values`)!.data;
      const largest = Math.max(...expected.map(Math.abs));
      expect(maxDifference(values, expected)).toBeLessThan(1e-12 * largest);
    });
  }

  it('separates eigenvalues 3 and 3 + 1e-9 and keeps the triple eigenvalue 2', () => {
    const { data: a, rows: n } = reference.get('repeated_10x10.a')!;
    const { values } = eighHost(a, n);
    expect(Array.from(values)).toEqual(
      [-1, -1, 0.5, 2, 2, 2, 3, 3 + 1e-9, 7, 10].map((x) => expect.closeTo(x, 13)),
    );
  });

  it('reads only the lower triangle', () => {
    const { data: a, rows: n } = reference.get('random_30x30.a')!;
    const garbled = a.slice();
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) garbled[i * n + j] = 1e6 * (i - j);
    expect(eighHost(garbled, n)).toEqual(eighHost(a, n));
  });
});

describe('eighHost edge cases', () => {
  it('n = 0, 1 and 2', () => {
    expect(eighHost(new Float64Array(0), 0)).toEqual({
      values: new Float64Array(0),
      vectors: new Float64Array(0),
    });
    expect(eighHost(new Float64Array([-4]), 1)).toEqual({
      values: new Float64Array([-4]),
      vectors: new Float64Array([1]),
    });
    const { values } = checkEigh(new Float64Array([2, 1, 1, 2]), 2);
    expect(maxDifference(values, new Float64Array([1, 3]))).toBeLessThan(1e-15);
  });

  it('a diagonal matrix: sorted diagonal, unit eigenvectors', () => {
    const { values, vectors } = checkEigh(new Float64Array([3, 0, 0, 0, -1, 0, 0, 0, 3]), 3);
    expect(values).toEqual(new Float64Array([-1, 3, 3]));
    expect(vectors).toEqual(new Float64Array([0, 1, 0, 1, 0, 0, 0, 0, 1]));
  });

  it('the zero matrix and a multiple of the identity', () => {
    expect(checkEigh(new Float64Array(16), 4).values).toEqual(new Float64Array(4));
    const identity = new Float64Array([5, 0, 0, 0, 5, 0, 0, 0, 5]);
    expect(checkEigh(identity, 3).values).toEqual(new Float64Array([5, 5, 5]));
  });

  it('crosses the 32-reflector block boundary (a 75×75 matrix)', () => {
    const n = 75;
    checkEigh(
      symmetrize(
        Array.from({ length: n * n }, (_, i) => Math.sin(i * 1.3)),
        n,
      ),
      n,
    );
  });

  it('decomposes random symmetric matrices (fast-check)', () => {
    const matrix = fc.integer({ min: 1, max: 12 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        values: fc.oneof(
          fc.array(fc.integer({ min: -2, max: 2 }), { minLength: n * n, maxLength: n * n }),
          fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: n * n, maxLength: n * n }),
        ),
      }),
    );
    fc.assert(
      fc.property(matrix, ({ n, values }) => {
        checkEigh(symmetrize(values, n), n);
      }),
      { numRuns: 300, seed: 11 },
    );
  });
});

describe('eighHost errors', () => {
  it('rejects NaN and Infinity', () => {
    expectLinalgError(
      () => eighHost(new Float64Array([1, 0, Number.NaN, 1]), 2),
      '[eigh] input contains NaN or Infinity',
    );
  });

  it('rejects a buffer that does not match n', () => {
    expectLinalgError(
      () => eighHost(new Float64Array(5), 2),
      '[eigh] a has 5 elements but a 2×2 matrix needs 4',
    );
  });

  it('throws instead of iterating forever when the QR iteration does not converge', () => {
    const { data: a } = reference.get('random_30x30.a')!;
    expectLinalgError(
      () => eighWithSweepLimit(a, 30, 1),
      '[eigh] did not converge after 1 QR sweeps on one eigenvalue of a 30×30 matrix',
    );
  });
});
