import { describe, expect, it } from 'vitest';
import { coalesce, isRowMajor, MAXD, Params, rowMajor } from './params.js';

describe('Params', () => {
  it('writes 64-bit two’s complement integers, pointers and float64 slots in order', () => {
    const p = new Params()
      .begin()
      .int(5)
      .int(-3)
      .int(2 ** 40 + 7)
      .real(0.25);
    const words = new BigInt64Array(p.buffer, 0, 4);
    expect(words[0]).toBe(5n);
    expect(words[1]).toBe(-3n);
    expect(words[2]).toBe(BigInt(2 ** 40 + 7));
    expect(new Float64Array(p.buffer, 24, 1)[0]).toBe(0.25);
  });

  it('pads integer lists to MAXD slots and describes shapes as (n, rank, dims)', () => {
    const p = new Params().begin().shape([2, 3]).int(99);
    const words = new BigInt64Array(p.buffer, 0, 2 + MAXD + 1);
    expect([...words.slice(0, 4)]).toEqual([6n, 2n, 2n, 3n]);
    expect([...words.slice(4, 2 + MAXD)]).toEqual(new Array(MAXD - 2).fill(0n));
    expect(words[2 + MAXD]).toBe(99n);
  });
});

describe('layouts', () => {
  it('merges dims contiguous for every operand and drops dims of size 1', () => {
    expect(coalesce([2, 1, 3, 4], [[12, 12, 4, 1]])).toEqual({ shape: [24], strides: [[1]] });
    expect(
      coalesce(
        [2, 3],
        [
          [3, 1],
          [0, 1],
        ],
      ),
    ).toEqual({
      shape: [2, 3],
      strides: [
        [3, 1],
        [0, 1],
      ],
    });
    expect(coalesce([], [[]])).toEqual({ shape: [1], strides: [[1]] });
  });

  it('knows row-major views, ignoring strides of size-1 dims', () => {
    expect(isRowMajor([2, 3], [3, 1])).toBe(true);
    expect(isRowMajor([1, 3], [99, 1])).toBe(true);
    expect(isRowMajor([2, 3], [1, 2])).toBe(false);
    expect(rowMajor([2, 3, 4])).toEqual([12, 4, 1]);
  });
});
