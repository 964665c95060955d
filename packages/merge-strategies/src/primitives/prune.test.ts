import { Generator, tensor } from '@lorakit/tensor';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { magnitudePrune, prune, randomPrune } from './prune.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('magnitudePrune', () => {
  it('keeps floor(density·numel) entries of largest magnitude (PEFT: [1,−2,3,−4] at 0.6 → [0,0,3,−4])', () => {
    expect(magnitudePrune(tensor([1, -2, 3, -4]), 0.6).toList()).toEqual([0, -0, 3, -4]);
    expect(magnitudePrune(tensor([1, -2, 3, -4]), 0).toList()).toEqual([0, -0, 0, -0]);
  });

  it('property: exactly k kept, unchanged, none smaller than a dropped one; shape and dtype kept', () => {
    const nonZero = fc
      .float({ noNaN: true, noDefaultInfinity: true, min: -100, max: 100 })
      .filter((v) => v !== 0);
    fc.assert(
      fc.property(
        fc.array(nonZero, { minLength: 1, maxLength: 40 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (values, density) => {
          const t = tensor(Float32Array.from(values), { shape: [values.length] });
          const out = magnitudePrune(t, density);
          expect([out.shape, out.dtype]).toEqual([t.shape, 'float32']);
          const o = out.toArray() as Float32Array;
          const x = t.toArray() as Float32Array;
          const kept = [...x.keys()].filter((i) => o[i] !== 0);
          const dropped = [...x.keys()].filter((i) => o[i] === 0);
          expect(kept.length).toBe(Math.floor(density * values.length));
          for (const i of kept) expect(o[i]).toBe(x[i]);
          const smallestKept = Math.min(...kept.map((i) => Math.abs(x[i]!)));
          for (const i of dropped) expect(Math.abs(x[i]!)).toBeLessThanOrEqual(smallestKept);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('works on any shape (flattened ranking)', () => {
    const t = tensor([
      [0.1, -5],
      [3, 0.2],
    ]);
    expect(magnitudePrune(t, 0.5).toList()).toEqual([
      [0, -5],
      [3, 0],
    ]);
  });
});

describe('randomPrune (DARE drop and rescale)', () => {
  it('keeps ≈ density of the entries and rescales the survivors by exactly 1/density', () => {
    const n = 40_000;
    const t = tensor(
      Float32Array.from({ length: n }, (_, i) => 1 + (i % 7)),
      { shape: [n] },
    );
    for (const density of [0.1, 0.5, 0.9]) {
      const out = randomPrune(t, density, {
        rescale: true,
        generator: new Generator(1),
      }).toArray() as Float32Array;
      const x = t.toArray() as Float32Array;
      let kept = 0;
      for (let i = 0; i < n; i++) {
        if (out[i] === 0) continue;
        kept++;
        expect(Math.abs(out[i]! - x[i]! / density)).toBeLessThanOrEqual(1e-6 * Math.abs(out[i]!));
      }
      const sigma = Math.sqrt((density * (1 - density)) / n);
      expect(Math.abs(kept / n - density)).toBeLessThan(5 * sigma);
    }
  });

  it('is reproducible from a seed and differs across seeds', () => {
    const t = tensor(Float32Array.from({ length: 1000 }, (_, i) => i + 1));
    const a = randomPrune(t, 0.5, { generator: new Generator(7) }).toArray();
    const b = randomPrune(t, 0.5, { generator: new Generator(7) }).toArray();
    const c = randomPrune(t, 0.5, { generator: new Generator(8) }).toArray();
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('without rescale keeps the original values; density 0 with rescale gives NaN (0/0, as PEFT)', () => {
    const t = tensor([1, 2, 3, 4]);
    const kept = randomPrune(t, 0.5, { generator: new Generator(3) }).toArray() as Float32Array;
    for (const [i, v] of kept.entries()) expect([0, i + 1]).toContain(v);
    expect((prune(t, 0, 'random', true).toArray() as Float32Array).every(Number.isNaN)).toBe(true);
  });
});

describe('prune', () => {
  it('density ≥ 1 warns once and returns the tensor itself', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const t = tensor([1, 2]);
    expect(prune(t, 1.5, 'magnitude')).toBe(t);
    expect(prune(t, 1.5, 'random')).toBe(t);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      'The density 1.5 is greater than or equal to 1, no pruning will be performed.',
      { type: 'LorakitWarning' },
    );
  });

  it('errors: negative density, unknown method, missing density', () => {
    const t = tensor([1, 2]);
    expect(() => prune(t, -0.1, 'magnitude')).toThrow('[prune] density must be >= 0, received -0.1');
    expect(() => prune(t, 0.5, 'topk' as never)).toThrow(
      '[prune] unknown method "topk"; valid methods: magnitude, random',
    );
    expect(() => prune(t, undefined as never, 'magnitude')).toThrow(
      '[prune] density must be a number, the fraction of entries to keep in [0, 1]; received undefined',
    );
    expect(() => randomPrune(t, 1.5)).toThrow(
      '[randomPrune] density must be in [0, 1] (a keep probability), received 1.5',
    );
  });
});
