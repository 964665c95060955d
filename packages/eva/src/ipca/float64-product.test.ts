import { nativeAvailable } from '@lorakit/cpu-backend';
import { Generator, randn } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { product64 } from './float64-product.js';

// Importing @lorakit/cpu-backend registers the `cpu` backend when its addon is built; tensors name
// their backend explicitly.
const backends = nativeAvailable ? ['js', 'cpu'] : ['js'];

describe('product64', () => {
  for (const backend of backends) {
    it(`equals matmul on the ${backend} backend, for transposed views and more than one block`, () => {
      const generator = new Generator(3);
      for (const [m, k, n] of [
        [5, 7, 3],
        [40, 300, 200],
        [1, 4, 1],
      ] as const) {
        const a = randn([k, m], { generator, dtype: 'float64', backend }).T;
        const b = randn([k, n], { generator, dtype: 'float64', backend });
        const expected = a.matmul(b).toArray() as Float64Array;
        const product = product64(a, b);
        expect(product.shape).toEqual([m, n]);
        expect(product.backend.name).toBe(backend);
        const actual = product.toArray() as Float64Array;
        for (let i = 0; i < expected.length; i++)
          expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(
            1e-12 * (1 + Math.abs(expected[i]!)),
          );
      }
    });
  }
});
