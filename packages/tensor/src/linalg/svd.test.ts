import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { svdHost } from './host.js';
import { svdWithSweepLimit } from './svd.js';
import {
  column,
  columnOrthogonalityError,
  expectLinalgError,
  frobenius,
  frobeniusDistance,
  largestByMagnitude,
  loadReference,
  maxDifference,
  reconstruct,
  rowOrthogonalityError,
} from './test-helpers.js';

const reference = loadReference();
const generalCases = [
  'random_5x3',
  'random_3x5',
  'random_8x8',
  'random_40x17',
  'random_17x40',
  'random_64x64',
  'rank3_20x12',
  'illcond_30x20',
  'zero_4x3',
];
const wellConditioned = new Set(generalCases.filter((name) => name.startsWith('random_')));

/** Every documented property of an SVD of the m×n matrix a, with tolerance `tolerance`. */
function checkSvd(a: Float64Array, m: number, n: number, full: boolean, tolerance = 1e-12): Float64Array {
  const k = Math.min(m, n);
  const uCols = full ? m : k;
  const vhRows = full ? n : k;
  const { u, s, vh } = svdHost(a, m, n, full);
  expect([u.length, s.length, vh.length]).toEqual([m * uCols, k, vhRows * n]);

  const norm = frobenius(a);
  const residual = frobeniusDistance(reconstruct(u, uCols, s, vh, m, n), a);
  expect(residual).toBeLessThanOrEqual(tolerance * norm);
  expect(columnOrthogonalityError(u, m, uCols)).toBeLessThan(tolerance);
  expect(rowOrthogonalityError(vh, vhRows, n)).toBeLessThan(tolerance);

  for (let i = 0; i < k; i++) {
    expect(s[i]).toBeGreaterThanOrEqual(0);
    if (i > 0) expect(s[i]).toBeLessThanOrEqual(s[i - 1]!);
    expect(largestByMagnitude(column(u, m, uCols, i))).toBeGreaterThan(0);
  }
  return s;
}

describe('svdHost against NumPy', () => {
  for (const name of generalCases) {
    const { data: a, rows: m, cols: n } = reference.get(`${name}.a`)!;
    const expected = reference.get(`${name}.s`)!.data;
    for (const full of [false, true]) {
      it(`${name}, full=${full}: reconstruction, orthogonality, order, signs, singular values`, () => {
        const before = a.slice();
        const s = checkSvd(a, m, n, full);
        expect(a).toEqual(before);
        const largest = expected[0]!;
        for (let i = 0; i < s.length; i++) {
          const error = Math.abs(s[i]! - expected[i]!);
          // Normwise accuracy for every value; relative accuracy where the matrix is well conditioned.
          expect(error).toBeLessThanOrEqual(1e-12 * largest);
          if (wellConditioned.has(name)) expect(error).toBeLessThanOrEqual(1e-12 * expected[i]!);
        }
      });
    }
  }

  it('finds the rank of a rank-3 matrix: nine singular values at rounding level', () => {
    const { data: a, rows, cols } = reference.get('rank3_20x12.a')!;
    const { s } = svdHost(a, rows, cols, false);
    expect(s[2]! / s[0]!).toBeGreaterThan(1e-3);
    for (let i = 3; i < s.length; i++) expect(s[i]!).toBeLessThan(1e-14 * s[0]!);
  });

  it('resolves the singular values 1 … 1e-12 of the ill-conditioned matrix to 1e-12 · s_max', () => {
    const { data: a, rows, cols } = reference.get('illcond_30x20.a')!;
    const { s } = svdHost(a, rows, cols, false);
    for (let i = 0; i < s.length; i++) expect(Math.abs(s[i]! - 10 ** ((-12 * i) / 19))).toBeLessThan(1e-12);
  });
});

describe('svdHost edge cases', () => {
  it('1×1: |a|, with the sign in vh', () => {
    expect(svdHost(new Float64Array([-3]), 1, 1, false)).toEqual({
      u: new Float64Array([1]),
      s: new Float64Array([3]),
      vh: new Float64Array([-1]),
    });
  });

  it('1×n and n×1, thin and full', () => {
    const row = new Float64Array([3, -4, 0, 12]);
    for (const full of [false, true]) {
      expect(checkSvd(row, 1, 4, full)[0]).toBeCloseTo(13, 14);
      expect(checkSvd(row, 4, 1, full)[0]).toBeCloseTo(13, 14);
    }
    const { u, vh } = svdHost(row, 1, 4, false);
    expect(u).toEqual(new Float64Array([1]));
    expect(Array.from(vh)).toEqual([3 / 13, -4 / 13, 0, 12 / 13].map((x) => expect.closeTo(x, 15)));
  });

  it('the zero matrix: zero singular values and orthonormal bases', () => {
    for (const [m, n] of [
      [4, 3],
      [3, 4],
      [1, 1],
    ] as const) {
      const s = checkSvd(new Float64Array(m * n), m, n, true);
      expect(s).toEqual(new Float64Array(Math.min(m, n)));
    }
  });

  it('empty matrices: no singular values; full bases are identities', () => {
    expect(svdHost(new Float64Array(0), 0, 3, false)).toEqual({
      u: new Float64Array(0),
      s: new Float64Array(0),
      vh: new Float64Array(0),
    });
    const { u, s, vh } = svdHost(new Float64Array(0), 2, 0, true);
    expect([u, s, vh]).toEqual([new Float64Array([1, 0, 0, 1]), new Float64Array(0), new Float64Array(0)]);
  });

  it('repeated singular values and exact zeros on the diagonal (orthogonal matrices, diagonal input)', () => {
    checkSvd(new Float64Array([0, 1, 0, 0, 0, 1, 1, 0, 0]), 3, 3, true);
    checkSvd(new Float64Array([0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 5]), 3, 4, true);
    checkSvd(new Float64Array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]), 4, 3, true);
    const bidiagonalWithZero = new Float64Array([1, 2, 0, 0, 0, 3, 0, 0, 4]);
    expect(checkSvd(bidiagonalWithZero, 3, 3, false)[2]).toBe(0);
  });

  it('scales by powers of two near the ends of the float64 range', () => {
    const a = new Float64Array([1, 2, 3, 4, 5, 6]);
    const plain = svdHost(a, 3, 2, false);
    for (const exponent of [1020, -1000]) {
      const { u, s, vh } = svdHost(
        a.map((x) => x * 2 ** exponent),
        3,
        2,
        false,
      );
      expect(maxDifference(u, plain.u)).toBeLessThan(1e-15);
      expect(maxDifference(vh, plain.vh)).toBeLessThan(1e-15);
      for (let i = 0; i < 2; i++) expect(s[i]! / 2 ** exponent / plain.s[i]! - 1).toBeLessThan(1e-15);
    }
    expect(svdHost(new Float64Array([0, 5e-324]), 2, 1, false).s).toEqual(new Float64Array([5e-324]));
  });

  it('orients each pair so that the largest entry of u_i is positive, the first one on ties', () => {
    // u₀ = ±(1, 1)/√2 exactly tied: the first entry decides.
    const { u, vh } = svdHost(new Float64Array([-1, -1]), 2, 1, false);
    expect(u[0]).toBeGreaterThan(0);
    expect(vh[0]).toBe(-1);
  });

  it('reconstructs and stays orthonormal on random shapes (fast-check)', () => {
    const matrix = fc
      .record({ m: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }), full: fc.boolean() })
      .chain(({ m, n, full }) =>
        fc.record({
          m: fc.constant(m),
          n: fc.constant(n),
          full: fc.constant(full),
          // Small integers make rank deficiency, repeated values and zero columns common.
          values: fc.oneof(
            fc.array(fc.integer({ min: -2, max: 2 }), { minLength: m * n, maxLength: m * n }),
            fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: m * n, maxLength: m * n }),
          ),
        }),
      );
    fc.assert(
      fc.property(matrix, ({ m, n, full, values }) => {
        checkSvd(Float64Array.from(values), m, n, full);
      }),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('svdHost errors', () => {
  it('rejects NaN and Infinity', () => {
    expectLinalgError(
      () => svdHost(new Float64Array([1, Number.NaN]), 1, 2, false),
      '[svd] input contains NaN or Infinity',
    );
    expectLinalgError(
      () => svdHost(new Float64Array([1, Number.NEGATIVE_INFINITY]), 2, 1, true),
      '[svd] input contains NaN or Infinity',
    );
  });

  it('rejects a buffer that does not match the shape, and bad dimensions', () => {
    expectLinalgError(
      () => svdHost(new Float64Array(5), 2, 3, false),
      '[svd] a has 5 elements but a 2×3 matrix needs 6',
    );
    expectLinalgError(
      () => svdHost(new Float64Array(0), -1, 0, false),
      '[svd] dimensions must be non-negative integers, received -1×0',
    );
  });

  it('throws instead of iterating forever when the QR iteration does not converge', () => {
    // The default limit is 75 sweeps per singular value; one sweep is too few for any of these.
    const { data: a } = reference.get('random_64x64.a')!;
    expectLinalgError(
      () => svdWithSweepLimit(a, 64, 64, false, 1),
      '[svd] did not converge after 1 QR sweeps on one singular value of a 64×64 matrix',
    );
    const { data: wide } = reference.get('random_17x40.a')!;
    expectLinalgError(
      () => svdWithSweepLimit(wide, 17, 40, true, 1),
      '[svd] did not converge after 1 QR sweeps on one singular value of a 17×40 matrix',
    );
  });
});
