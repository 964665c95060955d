import { describe, expect, it } from 'vitest';
import {
  bernoulli,
  Generator,
  kaimingUniform,
  manualSeed,
  philoxBlock,
  rand,
  randint,
  randn,
  randperm,
} from './index.js';
import { describeEachBackend } from './testing/backends.js';

const hex = (words: Uint32Array) => Array.from(words, (w) => w.toString(16).padStart(8, '0'));

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philoxBlock(0, 0, 0, 0, 0, 0, out);
    expect(hex(out)).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philoxBlock(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect(hex(out)).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philoxBlock(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect(hex(out)).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });
});

describeEachBackend('random', (backend) => {
  it('is reproducible from a seed and identical across backends', () => {
    const g = new Generator(42);
    const a = Array.from(rand([5], { generator: g }).toArray() as Float32Array);
    const b = Array.from(rand([5], { generator: new Generator(42) }).toArray() as Float32Array);
    expect(a).toEqual(b);
    const js = Array.from(
      rand([5], { generator: new Generator(42), backend: 'js' }).toArray() as Float32Array,
    );
    expect(a).toEqual(js);
    const next = Array.from(rand([5], { generator: g }).toArray() as Float32Array);
    expect(next).not.toEqual(a);
    expect(backend).toBeTruthy();
  });

  it('has the right moments', () => {
    manualSeed(3);
    const n = 20000;
    const u = rand([n], { dtype: 'float64' });
    expect(u.mean().item()).toBeCloseTo(0.5, 1);
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
    const z = randn([n], { dtype: 'float64', mean: 2, std: 3 });
    expect(Math.abs(z.mean().item() - 2)).toBeLessThan(0.1);
    expect(Math.abs(z.std().item() - 3)).toBeLessThan(0.1);
    const mask = bernoulli([n], 0.3);
    expect(Math.abs(mask.mean().item() - 0.3)).toBeLessThan(0.02);
    const ints = randint(-3, 4, [n]);
    expect(ints.dtype).toBe('int64');
    expect(ints.min().item()).toBe(-3);
    expect(ints.max().item()).toBe(3);
  });

  it('randperm is a permutation', () => {
    const p = Array.from(randperm(50, { generator: new Generator(9) }).toArray(), Number);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('kaimingUniform bounds follow PyTorch (a = √5 → 1/√fan_in)', () => {
    const w = kaimingUniform([64, 100], { a: Math.sqrt(5), generator: new Generator(1) });
    const bound = 1 / Math.sqrt(100);
    expect(w.abs().max().item()).toBeLessThanOrEqual(bound);
    expect(w.abs().max().item()).toBeGreaterThan(0.95 * bound);
  });

  it('rejects bad arguments', () => {
    expect(() => new Generator(-1)).toThrow(
      '[Generator] seed must be a non-negative safe integer, received -1',
    );
    expect(() => randint(3, 3, [2])).toThrow(
      '[randint] needs integers low < high with high − low ≤ 2³², received low 3, high 3',
    );
    expect(() => bernoulli([2], 1.5)).toThrow('[bernoulli] p must be in [0, 1], received 1.5');
    expect(() => rand([2], { dtype: 'int32' })).toThrow(
      '[rand] dtype must be floating-point, received int32',
    );
  });
});
