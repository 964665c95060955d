import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kthLargestMagnitudeMask } from './magnitude-select.js';

/** The reference: a stable sort of the magnitudes, descending, NaN first; the first k positions kept. */
function sortedMask(values: ArrayLike<number>, k: number): Uint8Array {
  const order = Array.from(values, (v, i) => [Math.abs(v), i] as const).sort((x, y) => {
    const [a, b] = [x[0], y[0]];
    if (Number.isNaN(a) || Number.isNaN(b))
      return Number.isNaN(a) === Number.isNaN(b) ? x[1] - y[1] : Number.isNaN(a) ? -1 : 1;
    return b - a || x[1] - y[1];
  });
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < k; i++) mask[order[i]![1]] = 1;
  return mask;
}

describe('kthLargestMagnitudeMask', () => {
  it('keeps the k largest magnitudes, ties in row-major order (float32 radix select and float64 sort)', () => {
    const value = fc.oneof(
      fc.float({ noNaN: false }),
      fc.constantFrom(0, -0, 1, -1, 0.5, -0.5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    );
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 60 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (raw, density) => {
          const k = Math.floor(density * raw.length);
          const f32 = Float32Array.from(raw);
          expect(kthLargestMagnitudeMask(f32, k)).toEqual(sortedMask(f32, k));
          const f64 = Float64Array.from(f32);
          expect(kthLargestMagnitudeMask(f64, k)).toEqual(sortedMask(f64, k));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('handles k = 0 and k = n', () => {
    const x = Float32Array.from([3, -1, 2]);
    expect([...kthLargestMagnitudeMask(x, 0)]).toEqual([0, 0, 0]);
    expect([...kthLargestMagnitudeMask(x, 3)]).toEqual([1, 1, 1]);
  });

  it('rejects integer data', () => {
    expect(() => kthLargestMagnitudeMask(Int32Array.from([1, 2]), 1)).toThrow(
      '[magnitudePrune] needs a float32 or float64 tensor, received Int32Array',
    );
  });

  it('selects in linear time on 4 M entries', () => {
    const n = 1 << 22;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 12.9898) * 43758.5453;
    const start = performance.now();
    const mask = kthLargestMagnitudeMask(x, n >> 1);
    const ms = performance.now() - start;
    expect(mask.reduce((s, v) => s + v, 0)).toBe(n >> 1);
    expect(ms).toBeLessThan(2000);
  });
});
