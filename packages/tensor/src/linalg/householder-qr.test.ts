import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { qrHost } from './host.js';
import {
  columnOrthogonalityError,
  expectLinalgError,
  frobenius,
  frobeniusDistance,
  loadReference,
  matmul,
  maxDifference,
} from './test-helpers.js';

const reference = loadReference();

/** Shapes, Q·R = A, QᵀQ = I and exact zeros below R's diagonal. */
function checkQr(
  a: Float64Array,
  m: number,
  n: number,
  tolerance = 1e-12,
): { q: Float64Array; r: Float64Array } {
  const k = Math.min(m, n);
  const { q, r } = qrHost(a, m, n);
  expect([q.length, r.length]).toEqual([m * k, k * n]);
  expect(frobeniusDistance(matmul(q, r, m, k, n), a)).toBeLessThanOrEqual(tolerance * frobenius(a));
  expect(columnOrthogonalityError(q, m, k)).toBeLessThan(tolerance);
  for (let i = 0; i < k; i++) for (let j = 0; j < Math.min(i, n); j++) expect(r[i * n + j]).toBe(0);
  return { q, r };
}

describe('qrHost against NumPy (LAPACK dgeqrf + dorgqr signs)', () => {
  const cases = [
    'random_5x3',
    'random_3x5',
    'random_8x8',
    'random_40x17',
    'random_17x40',
    'random_64x64',
    'zero_4x3',
  ];
  for (const name of cases) {
    it(`${name}: Q and R equal numpy.linalg.qr element for element`, () => {
      const { data: a, rows: m, cols: n } = reference.get(`${name}.a`)!;
      const before = a.slice();
      const { q, r } = checkQr(a, m, n);
      expect(a).toEqual(before);
      expect(maxDifference(q, reference.get(`${name}.q`)!.data)).toBeLessThan(1e-12);
      expect(maxDifference(r, reference.get(`${name}.r`)!.data)).toBeLessThan(1e-12);
    });
  }

  for (const name of ['rank3_20x12', 'illcond_30x20']) {
    it(`${name}: Q·R = A with orthonormal Q (Q past the rank is not unique)`, () => {
      const { data: a, rows: m, cols: n } = reference.get(`${name}.a`)!;
      checkQr(a, m, n);
    });
  }

  it('keeps the sign of a column that needs no reflector, as LAPACK does', () => {
    // numpy.linalg.qr([[-2, 1], [0, 3]]) → Q = I, R = A; qr([[0, 1], [0, 3], [0, 4]]) → R = [[0, 1], [0, -5]].
    expect(qrHost(new Float64Array([-2, 1, 0, 3]), 2, 2)).toEqual({
      q: new Float64Array([1, 0, 0, 1]),
      r: new Float64Array([-2, 1, 0, 3]),
    });
    const { q, r } = qrHost(new Float64Array([0, 1, 0, 3, 0, 4]), 3, 2);
    expect(maxDifference(q, new Float64Array([1, 0, 0, -0.6, 0, -0.8]))).toBeLessThan(1e-15);
    expect(maxDifference(r, new Float64Array([0, 1, 0, -5]))).toBeLessThan(1e-15);
    expect(qrHost(new Float64Array([1, 2, 3]), 1, 3)).toEqual({
      q: new Float64Array([1]),
      r: new Float64Array([1, 2, 3]),
    });
  });

  it('handles empty matrices', () => {
    expect(qrHost(new Float64Array(0), 0, 3)).toEqual({ q: new Float64Array(0), r: new Float64Array(0) });
    expect(qrHost(new Float64Array(0), 2, 0)).toEqual({ q: new Float64Array(0), r: new Float64Array(0) });
  });

  it('crosses the 32-column block boundary consistently (100×70 and 70×100)', () => {
    const values = Float64Array.from({ length: 7000 }, (_, i) => Math.sin(i * 0.7) + Math.cos(i * i * 0.001));
    checkQr(values, 100, 70);
    checkQr(values, 70, 100);
  });

  it('factors random shapes (fast-check)', () => {
    const matrix = fc
      .record({ m: fc.integer({ min: 1, max: 40 }), n: fc.integer({ min: 1, max: 40 }) })
      .chain(({ m, n }) =>
        fc.record({
          m: fc.constant(m),
          n: fc.constant(n),
          values: fc.oneof(
            fc.array(fc.integer({ min: -2, max: 2 }), { minLength: m * n, maxLength: m * n }),
            fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: m * n, maxLength: m * n }),
          ),
        }),
      );
    fc.assert(
      fc.property(matrix, ({ m, n, values }) => {
        checkQr(Float64Array.from(values), m, n);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});

describe('qrHost errors', () => {
  it('rejects NaN and Infinity', () => {
    expectLinalgError(
      () => qrHost(new Float64Array([Number.POSITIVE_INFINITY, 0]), 2, 1),
      '[qr] input contains NaN or Infinity',
    );
  });

  it('rejects a buffer that does not match the shape', () => {
    expectLinalgError(
      () => qrHost(new Float64Array(7), 2, 3),
      '[qr] a has 7 elements but a 2×3 matrix needs 6',
    );
    expectLinalgError(
      () => qrHost(new Float64Array(3), 1.5, 2),
      '[qr] dimensions must be non-negative integers, received 1.5×2',
    );
  });
});
