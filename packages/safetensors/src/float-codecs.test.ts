import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBFloat16,
  decodeFloat8E4M3,
  decodeFloat8E5M2,
  decodeFloat16,
  encodeBFloat16,
  encodeFloat8E4M3,
  encodeFloat8E5M2,
  encodeFloat16,
} from './float-codecs.js';

describe('float16', () => {
  it('decodes the landmarks of binary16', () => {
    const bits = new Uint16Array([
      0x0000, 0x8000, 0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x7e00,
    ]);
    const out = decodeFloat16(bits);
    expect(Array.from(out.slice(0, 9))).toEqual([
      0,
      -0,
      1,
      -2,
      65504,
      2 ** -24,
      2 ** -14,
      Infinity,
      -Infinity,
    ]);
    expect(out[9]).toBeNaN();
  });

  it('round-trips every 16-bit pattern except NaN payloads', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = encodeFloat16(decodeFloat16(all));
    for (let i = 0; i < 65536; i++) {
      const isNanPattern = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNanPattern) expect(back[i]).toBe(i);
    }
  });

  it('rounds to nearest, ties to even, and overflows to infinity', () => {
    const ulpAtOne = 2 ** -10;
    const values = [1 + ulpAtOne / 2, 1 + (3 * ulpAtOne) / 2, 65520, 70000, 2 ** -25, 2 ** -25 * 1.5];
    expect(Array.from(encodeFloat16(values))).toEqual([0x3c00, 0x3c02, 0x7c00, 0x7c00, 0x0000, 0x0001]);
  });

  it('encode(decode(x)) is the nearest binary16 value (property)', () => {
    fc.assert(
      fc.property(fc.float({ min: -60000, max: 60000, noNaN: true }), (x) => {
        const h = decodeFloat16(encodeFloat16([x]))[0]!;
        const bits = encodeFloat16([x])[0]!;
        const neighbours = decodeFloat16(new Uint16Array([bits - 1, bits + 1].map((b) => b & 0xffff)));
        for (const n of neighbours)
          if (Number.isFinite(n)) expect(Math.abs(h - x)).toBeLessThanOrEqual(Math.abs(n - x));
      }),
    );
  });
});

describe('bfloat16', () => {
  it('keeps the top 16 bits, rounding to nearest even', () => {
    expect(Array.from(encodeBFloat16([1, -2, 1 + 2 ** -8, 1 + 3 * 2 ** -8]))).toEqual([
      0x3f80, 0xc000, 0x3f80, 0x3f82,
    ]);
    expect(Array.from(decodeBFloat16(new Uint16Array([0x3f80, 0xc000, 0x7f80])))).toEqual([1, -2, Infinity]);
    expect(decodeBFloat16(encodeBFloat16([Number.NaN]))[0]).toBeNaN();
  });
});

describe('float8', () => {
  it('e4m3fn: max 448, NaN only at 0x7f/0xff, no infinities', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const values = decodeFloat8E4M3(all);
    expect(values[0x7e]).toBe(448);
    expect(values[0x01]).toBe(2 ** -9);
    expect(values[0x7f]).toBeNaN();
    expect(values[0xff]).toBeNaN();
    expect(Array.from(values).filter((v) => !Number.isFinite(v) && !Number.isNaN(v))).toEqual([]);
    const back = encodeFloat8E4M3(values);
    for (let i = 0; i < 256; i++) if (!Number.isNaN(values[i]!)) expect(back[i]).toBe(i);
    expect(Array.from(encodeFloat8E4M3([460, 480, 1000]))).toEqual([0x7e, 0x7f, 0x7f]);
  });

  it('e5m2: max 57344 with infinities', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const values = decodeFloat8E5M2(all);
    expect(values[0x7b]).toBe(57344);
    expect(values[0x7c]).toBe(Infinity);
    expect(values[0xfc]).toBe(-Infinity);
    const back = encodeFloat8E5M2(values);
    for (let i = 0; i < 256; i++) if (!Number.isNaN(values[i]!)) expect(back[i]).toBe(i);
    expect(Array.from(encodeFloat8E5M2([60000, 61440, -1e6]))).toEqual([0x7b, 0x7c, 0xfc]);
  });
});
