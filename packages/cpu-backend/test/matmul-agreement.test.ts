/**
 * matmul of the cpu backend (native sgemm / dgemm behind the view mapping of src/backend/matmul.ts)
 * against the JavaScript reference kernel, on random strided views: transposed, stepped and broadcast
 * matrix and batch dims, and empty dims. Products accumulate in another order than the reference's k loop,
 * so results agree within a bound that grows with k.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeAgreement, expectSame, js, runs } from './agreement.js';
import { layoutArb, makeView } from './views.js';

describeAgreement("the cpu backend's matmul", (cpu) => {
  it('float32 and float64 products of random views agree with the reference', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom('float32' as const, 'float64' as const),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (batch, m, n, k, dtype, seed) => {
          const rank = batch.length + 2;
          const [la, lb] = fc.sample(layoutArb(rank), { seed, numRuns: 2 });
          const a = makeView(dtype, [...batch, m, k], la!);
          const b = makeView(dtype, [...batch, k, n], lb!);
          // |a|, |b| < 3: every partial sum is below 9k.
          const unit = dtype === 'float32' ? 2 ** -23 : 2 ** -52;
          const bound = (v: number) => (k + 4) * unit * 9 * k + 4 * unit * Math.abs(v);
          expectSame(cpu.matmul(a, b, dtype), js.matmul(a, b, dtype), bound);
        },
      ),
      { numRuns: runs * 4 },
    );
  });

  it('float64 products big enough for threads and for several cache blocks', () => {
    for (const [batch, m, k, n, transposeB, broadcastB] of [
      [[], 977, 256, 32, false, false],
      [[], 256, 300, 260, true, false],
      [[3], 70, 290, 90, false, true],
      [[2], 13, 600, 700, true, false],
    ] as [number[], number, number, number, boolean, boolean][]) {
      const rank = batch.length + 2;
      const identity = Array.from({ length: rank }, (_, i) => i);
      const plain = { permutation: identity, steps: identity.map(() => 1), offset: 1, seed: m + n };
      const a = makeView('float64', [...batch, m, k], { ...plain, broadcast: identity.map(() => false) });
      const b = makeView('float64', [...batch, k, n], {
        ...plain,
        seed: k,
        // A transposed weight (the last two dims swapped in storage), and a batch-broadcast right operand.
        permutation: transposeB ? [...identity.slice(0, -2), rank - 1, rank - 2] : identity,
        broadcast: identity.map((d) => broadcastB && d < rank - 2),
      });
      const got = cpu.matmul(a, b, 'float64');
      expect(got).toBeInstanceOf(Float64Array);
      expectSame(got, js.matmul(a, b, 'float64'), (v) => 1e-12 * (9 * k + Math.abs(v)));
    }
  });

  it('integer products still run on the reference kernel (exact)', () => {
    const layout = { permutation: [1, 0], steps: [1, 1], broadcast: [false, false], offset: 2, seed: 5 };
    const a = makeView('int32', [3, 4], layout);
    const b = makeView('int32', [4, 5], { ...layout, permutation: [0, 1] });
    expectSame(cpu.matmul(a, b, 'int32'), js.matmul(a, b, 'int32'));
  });
});
