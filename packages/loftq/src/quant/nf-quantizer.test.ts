import { tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { values, vector } from '../../test/helpers.js';
import { NFQuantizer } from './nf-quantizer.js';
import { NF4_CODE } from './nf4.js';
import { normalQuantile } from './normal-quantile.js';

describe("PEFT's NFQuantizer (≤ 0.18)", () => {
  for (const bits of [2, 4, 8]) {
    it(`builds the NF${bits} code book exactly and quantizes like PEFT (argmin, absmax per 64, lowest bits first)`, () => {
      const quantizer = new NFQuantizer({ numBits: bits });
      expect(Array.from(quantizer.lookupTable)).toEqual(values(vector(`nf.normal${bits}.table`)));
      const q = quantizer.quantizeBlock(vector('nf.x'));
      expect(Array.from(q.packed)).toEqual(values(vector(`nf.normal${bits}.packed`)));
      expect(Array.from(q.scales)).toEqual(values(vector(`nf.normal${bits}.scales`)));
      expect(values(quantizer.dequantizeBlock(q))).toEqual(values(vector(`nf.normal${bits}.dequantized`)));
    });
  }

  it('has the spec’s NF2 book and an NF8 book of 256 values (128 positive, 127 negative, one zero)', () => {
    expect(Array.from(NFQuantizer.normalMap(2))).toEqual([-1, 0, NF4_CODE[11], 1]);
    const nf8 = Array.from(NFQuantizer.normalMap(8));
    expect([nf8.length, nf8.filter((v) => v > 0).length, nf8.filter((v) => v < 0).length]).toEqual([
      256, 128, 127,
    ]);
  });

  it('builds the uniform book and mean + 2.5·std scales', () => {
    const quantizer = new NFQuantizer({ numBits: 4, method: 'uniform' });
    expect(Array.from(quantizer.lookupTable)).toEqual(values(vector('nf.uniform4.table')));
    const q = quantizer.quantizeBlock(vector('nf.x'));
    const scales = values(vector('nf.uniform4.scales'));
    // Scales sum in float64 here and in float32 in PyTorch: equal to an ulp or two.
    const worst = Math.max(
      ...Array.from(q.scales, (s, i) => Math.abs(s - scales[i]!) / Math.abs(scales[i]!)),
    );
    expect(worst).toBeLessThanOrEqual(2 ** -22);
    expect(Array.from(q.packed)).toEqual(values(vector('nf.uniform4.packed')));
  });

  it('packs 8/k codes per byte, the first element in the lowest bits', () => {
    const quantizer = new NFQuantizer({ numBits: 2, blockSize: 4 });
    // codes of −1, 0, 0.338, 1 are 0, 1, 2, 3
    const q = quantizer.quantizeBlock(tensor([[-1, 0, 0.3379152, 1]]));
    expect(Array.from(q.packed)).toEqual([0b11_10_01_00]);
  });

  it('computes Φ⁻¹ to float64 accuracy (AS 241)', () => {
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 15);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 13);
    expect([normalQuantile(0), normalQuantile(1)]).toEqual([
      Number.NEGATIVE_INFINITY,
      Number.POSITIVE_INFINITY,
    ]);
  });

  it('reports PEFT’s errors', () => {
    expect(() => new NFQuantizer({ numBits: 3 })).toThrow(
      '[NFQuantizer] numBits must be 2, 4 or 8, received 3',
    );
    expect(() => new NFQuantizer({ numBits: 4 }).quantizeBlock(tensor([[1, 2, 3]]))).toThrow(
      '[NFQuantizer] Weight with shape (1 x 3) is not dividable by block size 64.',
    );
    expect(() => new NFQuantizer({ numBits: 4 }).quantizeBlock(tensor([1, 2, 3]))).toThrow(
      '[NFQuantizer] Only support 2D matrix, but your input has 1 dimensions.',
    );
  });
});
