import { tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { values, vector } from '../../test/helpers.js';
import { roundHalfEven } from './float32.js';
import { int8Dequantize, int8DequantizeValues, int8Quantize, int8QuantizeValues } from './int8.js';

describe('int8 row-wise (bitsandbytes LLM.int8 weights)', () => {
  it('is bit-exact with bitsandbytes on a weight with an outlier and a zero row', () => {
    const q = int8Quantize(vector('w'));
    expect(Array.from(q.codes)).toEqual(values(vector('int8.w.codes')));
    expect(Array.from(q.absmax)).toEqual(values(vector('int8.w.absmax')));
    expect(values(int8Dequantize(q))).toEqual(values(vector('int8.w.dequantized')));
    expect(q.absmax[10]).toBe(0);
    expect(Array.from(q.codes.subarray(400, 440)).every((c) => c === 0)).toBe(true);
  });

  it('rounds halves to even, like torch.round', () => {
    // −7.5 … 8.5 with a row max of 127: the scale is exactly 1, so every value is a tie.
    const input = vector('int8.ties.input');
    const q = int8Quantize(input);
    expect(Array.from(q.codes)).toEqual(values(vector('int8.ties.codes')));
    expect(Array.from(q.codes.subarray(0, 17))).toEqual([
      -8, -6, -6, -4, -4, -2, -2, 0, 0, 2, 2, 4, 4, 6, 6, 8, 8,
    ]);
    expect([2.5, 3.5, -2.5, -0.5, 0.5, 1.4999].map(roundHalfEven)).toEqual([2, 4, -2, -0, 0, 1]);
  });

  it('quantizes the float16 value of each weight, as Int8Params does', () => {
    // 1 + 2⁻¹² is not a float16 value: it rounds to 1, so the row max is exactly 1 and the code 127.
    const q = int8QuantizeValues([1 + 2 ** -12, 0.5], 1, 2);
    expect(Array.from(q.absmax)).toEqual([1]);
    expect(Array.from(q.codes)).toEqual([127, 64]);
  });

  it('scales by 127 · (1/absmax) in float32, as bitsandbytes does, which decides exact ties', () => {
    // absmax 1.01171875 (a float16): fl(127 / m) · m/2 rounds to 63.5 → 64, but bitsandbytes (CUDA and the
    // PyTorch backend) computes 127 · fl(1 / m), whose product is just under 63.5 → 63.
    const q = int8QuantizeValues([1.01171875, 1.01171875 / 2, -1.01171875 / 2], 1, 3);
    expect(Array.from(q.codes)).toEqual([127, 63, -63]);
  });

  it('is idempotent on dequantized weights', () => {
    const q = int8Quantize(vector('w'));
    expect(Array.from(int8Quantize(int8Dequantize(q)).codes)).toEqual(Array.from(q.codes));
  });

  it('checks sizes', () => {
    expect(() => int8QuantizeValues([1, 2, 3], 2, 2)).toThrow(
      '[int8Quantize] 2 rows × 2 columns need 4 values, received 3',
    );
    expect(() => int8DequantizeValues({ codes: new Int8Array(5), absmax: new Float32Array(2) }, 2)).toThrow(
      '[int8Dequantize] 2 rows × 2 columns need 4 codes, received 5',
    );
    expect(() => int8Quantize(tensor(3))).toThrow(
      '[int8Quantize] needs a tensor of rank ≥ 1, received a scalar',
    );
  });
});
