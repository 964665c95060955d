import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloatDtype } from '../dtype.js';
import {
  dequantize4bit,
  dequantize4bitComposed,
  dequantizeInt8,
  dequantizeInt8Composed,
  getBackend,
  registerBackend,
  tensor,
  unregisterBackend,
} from '../index.js';
import { describeEachBackend } from '../testing/backends.js';
import { createOpaqueBackend } from '../testing/opaque-backend.js';

/** Deterministic pseudo-random int32 words covering every bit pattern class (negative words too). */
function randomWords(count: number, seed: number): Int32Array {
  const words = new Int32Array(count);
  let state = seed >>> 0;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    words[i] = state | 0;
  }
  return words;
}

function randomScales(count: number, seed: number): Float32Array {
  const words = randomWords(count, seed);
  return Float32Array.from(words, (w) => ((w >>> 8) / 2 ** 24) * 3 + 0.01);
}

/** The little-endian bytes of int32 words (Node's typed arrays are little-endian on every host it runs on). */
function bytesOf(words: Int32Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

/** The documented formula, written out element by element. */
function reference4bit(
  words: Int32Array,
  absmax: Float32Array,
  book: Float32Array,
  size: number,
  blocksize: number,
): Float32Array {
  const bytes = bytesOf(words);
  return Float32Array.from({ length: size }, (_, i) => {
    const byte = bytes[i >> 1]!;
    const code = i % 2 === 0 ? byte >> 4 : byte & 15;
    return book[code]! * absmax[Math.floor(i / blocksize)]!;
  });
}

function referenceInt8(
  words: Int32Array,
  absmax: Float32Array,
  columns: number,
  scale: number,
): Float32Array {
  const codes = new Int8Array(words.buffer, words.byteOffset, absmax.length * columns);
  const factor = Math.fround(scale);
  return Float32Array.from(codes, (q, k) => Math.fround(q * absmax[Math.floor(k / columns)]!) * factor);
}

/** The reference values rounded to `dtype` (through a float32 tensor's cast). */
function rounded(values: Float32Array, dtype: FloatDtype): number[] {
  return Array.from(tensor(values).cast(dtype).toArray() as ArrayLike<number>);
}

// An NF4-like code book: 16 distinct float32 values in [−1, 1] with an exact zero.
const BOOK = Float32Array.from({ length: 16 }, (_, c) => (c === 7 ? 0 : Math.fround((c - 7) / 8.3)));
const DTYPES: readonly FloatDtype[] = ['float32', 'float64', 'float16', 'bfloat16'];

describeEachBackend('dequantize4bit', () => {
  it('follows the documented formula, fused and composed, for every output dtype', () => {
    for (const [shape, blocksize] of [
      [[6, 64], 64],
      [[5, 13], 64], // odd size, partial last block, unused nibble and bytes
      [[3, 7], 2],
      [[1], 32],
      [[0, 4], 64],
    ] as const) {
      const size = shape.reduce((a: number, b: number) => a * b, 1);
      const words = randomWords(Math.ceil(size / 8), size + 1);
      const absmax = randomScales(Math.ceil(size / blocksize), size + 2);
      const expected = reference4bit(words, absmax, BOOK, size, blocksize);
      const inputs = [tensor(words, { dtype: 'int32' }), tensor(absmax), tensor(BOOK)] as const;
      for (const dtype of DTYPES) {
        const options = { shape, blocksize, dtype };
        for (const result of [
          dequantize4bit(...inputs, options),
          dequantize4bitComposed(...inputs, options),
        ]) {
          expect([result.shape, result.dtype, result.requiresGrad]).toEqual([shape, dtype, false]);
          expect(Array.from(result.toArray() as ArrayLike<number>)).toEqual(rounded(expected, dtype));
        }
      }
    }
  });

  it('reads the high nibble first, bytes little-endian, one scale per block', () => {
    // Bytes 0x12, 0x34, 0x56, 0x78 → codes 1, 2, 3, 4, 5, 6, 7, 8; the word is 0x78563412.
    const book = tensor(Float32Array.from({ length: 16 }, (_, c) => c));
    const packed = tensor([0x78563412], { dtype: 'int32' });
    const absmax = tensor([1, 10, 100, 1000]);
    const out = dequantize4bit(packed, absmax, book, { shape: [8], blocksize: 2 });
    expect(out.toList()).toEqual([1, 2, 30, 40, 500, 600, 7000, 8000]);
  });

  it('reads inputs at an offset and through strides', () => {
    const words = randomWords(12, 5);
    const absmax = randomScales(6, 6);
    // Words 2…5 (contiguous at offset 2), every other scale (stride 2), the code book through a stride-2 view.
    const packed = tensor(words, { dtype: 'int32' }).narrow(0, 2, 4);
    const scales = tensor(absmax).reshape(3, 2).select(1, 0);
    const book = tensor(Float32Array.from({ length: 32 }, (_, i) => (i % 2 === 0 ? BOOK[i / 2]! : 99)))
      .reshape(16, 2)
      .select(1, 0);
    const expected = reference4bit(
      words.slice(2, 6),
      Float32Array.from([absmax[0]!, absmax[2]!, absmax[4]!]),
      BOOK,
      30,
      10,
    );
    expect([packed.view().offset, scales.view().strides, book.view().strides]).toEqual([2, [2], [2]]);
    for (const run of [dequantize4bit, dequantize4bitComposed]) {
      expect(
        Array.from(run(packed, scales, book, { shape: [30], blocksize: 10 }).toArray() as Float32Array),
      ).toEqual(Array.from(expected));
    }
  });

  it('rejects bad inputs with exact messages', () => {
    const packed = tensor(new Int32Array(2), { dtype: 'int32' });
    const absmax = tensor(new Float32Array(1));
    const book = tensor(BOOK);
    const options = { shape: [4, 4], blocksize: 16 };
    expect(() => dequantize4bit(packed.cast('int64'), absmax, book, options)).toThrow(
      '[dequantize4bit] packed must be an int32 tensor, received int64',
    );
    expect(() => dequantize4bit(packed.reshape(1, 2), absmax, book, options)).toThrow(
      '[dequantize4bit] packed must be 1-D with ⌈16/8⌉ = 2 words (8 codes per word), received [1, 2]',
    );
    expect(() => dequantize4bit(packed, tensor(new Float32Array(2)), book, options)).toThrow(
      '[dequantize4bit] absmax must be 1-D with ⌈16/16⌉ = 1 block scales, received [2]',
    );
    expect(() => dequantize4bit(packed, absmax.double(), book, options)).toThrow(
      '[dequantize4bit] absmax must be a float32 tensor, received float64',
    );
    expect(() => dequantize4bit(packed, absmax, book.narrow(0, 0, 15), options)).toThrow(
      '[dequantize4bit] codebook must be 1-D with 16 values (one per code), received [15]',
    );
    expect(() => dequantize4bit(packed, absmax, book, { ...options, blocksize: 15 })).toThrow(
      '[dequantize4bit] blocksize must be a positive even integer, received 15',
    );
    expect(() => dequantize4bit(packed, absmax, book, { shape: [4, -1], blocksize: 16 })).toThrow(
      '[dequantize4bit] shape must be an array of non-negative integers, received 4,-1',
    );
    expect(() =>
      dequantize4bit(packed, absmax, book, { ...options, dtype: 'int32' as unknown as FloatDtype }),
    ).toThrow(
      '[dequantize4bit] dtype must be a float dtype (float32, float64, float16, bfloat16), received int32',
    );
  });
});

describeEachBackend('dequantizeInt8', () => {
  it('follows the documented formula, fused and composed, for every output dtype', () => {
    const scale = 1 / 127;
    for (const shape of [[5, 8], [3, 7], [2, 3, 5], [1], [0, 3]] as const) {
      const size = shape.reduce((a: number, b: number) => a * b, 1);
      const columns = shape[shape.length - 1]!;
      const words = randomWords(Math.ceil(size / 4), size + 7);
      const absmax = randomScales(columns === 0 ? shape[0] : size / columns, size + 8);
      const expected = referenceInt8(words, absmax, columns, scale);
      const inputs = [tensor(words, { dtype: 'int32' }), tensor(absmax)] as const;
      for (const dtype of DTYPES) {
        const options = { shape, scale, dtype };
        for (const result of [
          dequantizeInt8(...inputs, options),
          dequantizeInt8Composed(...inputs, options),
        ]) {
          expect([result.shape, result.dtype]).toEqual([shape, dtype]);
          expect(Array.from(result.toArray() as ArrayLike<number>)).toEqual(rounded(expected, dtype));
        }
      }
    }
  });

  it('reads signed bytes little-endian, one scale per row', () => {
    // Bytes 0x01, 0xff, 0x80, 0x7f → 1, −1, −128, 127.
    const codes = tensor([0x7f80ff01], { dtype: 'int32' });
    const out = dequantizeInt8(codes, tensor([2, 4]), { shape: [2, 2], scale: 0.5 });
    expect(out.toList()).toEqual([
      [1, -1],
      [-256, 254],
    ]);
  });

  it('rejects bad inputs with exact messages', () => {
    const codes = tensor(new Int32Array(2), { dtype: 'int32' });
    const absmax = tensor(new Float32Array(2));
    expect(() => dequantizeInt8(codes, absmax, { shape: [], scale: 1 })).toThrow(
      '[dequantizeInt8] shape must have rank ≥ 1 (its last dim is the row length), received []',
    );
    expect(() => dequantizeInt8(codes, absmax, { shape: [2, 4], scale: Number.NaN })).toThrow(
      '[dequantizeInt8] scale must be a finite number, received NaN',
    );
    expect(() => dequantizeInt8(codes, absmax, { shape: [2, 5], scale: 1 })).toThrow(
      '[dequantizeInt8] codes must be 1-D with ⌈10/4⌉ = 3 words (4 codes per word), received [2]',
    );
    expect(() => dequantizeInt8(codes, absmax, { shape: [1, 8], scale: 1 })).toThrow(
      '[dequantizeInt8] absmax must be 1-D with 1 row scales, received [2]',
    );
    expect(() => dequantizeInt8(codes.float(), absmax, { shape: [2, 4], scale: 1 })).toThrow(
      '[dequantizeInt8] codes must be an int32 tensor, received float32',
    );
  });
});

describe('dequantize kernels on a device-like backend', () => {
  const name = 'opaque-dequantize';
  const backend = createOpaqueBackend(name);
  beforeAll(() => registerBackend(backend, -2));
  afterAll(() => unregisterBackend(name));

  it('make no host transfer once the codes are on the device', () => {
    const options = { backend: name };
    const packed = tensor(randomWords(8, 1), { ...options, dtype: 'int32' });
    const absmax = tensor(randomScales(1, 2), options);
    const book = tensor(BOOK, options);
    const scb = tensor(randomScales(8, 3), options);
    const before = { ...backend.transfers };
    const weight4 = dequantize4bit(packed, absmax, book, { shape: [8, 8], blocksize: 64 });
    const weight8 = dequantizeInt8(packed, scb, { shape: [8, 4], scale: 1 / 127 });
    const composed4 = dequantize4bitComposed(packed, absmax, book, { shape: [8, 8], blocksize: 64 });
    const composed8 = dequantizeInt8Composed(packed, scb, { shape: [8, 4], scale: 1 / 127 });
    expect(backend.transfers).toEqual(before);
    expect(weight4.backend).toBe(getBackend(name));
    expect(weight4.sub(composed4).abs().max().item()).toBe(0);
    expect(weight8.sub(composed8).abs().max().item()).toBe(0);
  });
});
