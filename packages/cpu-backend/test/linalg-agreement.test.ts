/**
 * SVD, QR and eigh of the cpu backend against the JavaScript reference kernels on random inputs — see test/agreement.ts and
 * test/views.ts. Exact agreement where the arithmetic is the same; float32 approximations within a few
 * ulp; products and sums (accumulated in another order) within bounds that grow with their length.
 */
import type { JsStorage, View } from '@lorakit/tensor';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { describeAgreement, expectSame, js, runs } from './agreement.js';
import { contiguous, layoutArb, makeView } from './views.js';

describeAgreement("the cpu backend's linear algebra", (cpu) => {
  it('svd, qr and eigh agree with the reference (same algorithms, same signs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.integer({ min: 1, max: 24 }),
        fc.boolean(),
        fc.constantFrom('float32' as const, 'float64' as const),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        (m, n, full, dtype, seed) => {
          // No broadcast dims: repeated rows would make the matrix rank-deficient, where singular vectors
          // of equal singular values are any basis and two roundings may pick different ones.
          const dense = (shape: number[], s: number) =>
            makeView(dtype, shape, {
              ...fc.sample(layoutArb(2), { seed: s, numRuns: 1 })[0]!,
              broadcast: [false, false],
            });
          const x = dense([m, n], seed);
          const bound =
            dtype === 'float32'
              ? (v: number) => 2e-6 + 2e-6 * Math.abs(v)
              : (v: number) => 1e-11 + 1e-11 * Math.abs(v);
          const s = [cpu.svd(x, full), js.svd(x, full)] as const;
          expectSame(s[0].s, s[1].s, bound);
          expectSame(s[0].u, s[1].u, bound);
          expectSame(s[0].vh, s[1].vh, bound);
          const q = [cpu.qr(x), js.qr(x)] as const;
          expectSame(q[0].q, q[1].q, bound);
          expectSame(q[0].r, q[1].r, bound);
          const square = dense([m, m], seed + 1);
          const e = [cpu.eigh(square), js.eigh(square)] as const;
          expectSame(e[0].values, e[1].values, bound);
          expectSame(e[0].vectors, e[1].vectors, bound);
        },
      ),
      { numRuns: runs },
    );
  });
  it('svd, qr and eigh on matrices large enough for the threaded passes and the panel-wise rotations', () => {
    for (const [m, n] of [
      [300, 260],
      [180, 301],
    ] as const) {
      const x = contiguous('float64', [m, n], m + n);
      const bound = (v: number) => 1e-10 + 1e-10 * Math.abs(v);
      for (const full of [false, true]) {
        const [ours, reference] = [cpu.svd(x, full), js.svd(x, full)];
        expectSame(ours.s, reference.s, bound);
        expectSame(ours.u, reference.u, bound);
        expectSame(ours.vh, reference.vh, bound);
      }
      const [q, r] = [cpu.qr(x), js.qr(x)];
      expectSame(q.q, r.q, bound);
      expectSame(q.r, r.r, bound);
    }
    const square = contiguous('float64', [257, 257], 3);
    const [ours, reference] = [cpu.eigh(square), js.eigh(square)];
    expectSame(ours.values, reference.values, (v) => 1e-10 + 1e-10 * Math.abs(v));
    expectSame(ours.vectors, reference.vectors, (v) => 1e-9 + 1e-9 * Math.abs(v));
  });
  it('svd of a rank-deficient matrix: the same singular values and a reconstruction to rounding', () => {
    // Rows repeat (a broadcast view), so most singular values are zero and the QR iteration chases zeros.
    const base = contiguous('float64', [40, 1, 30], 9);
    const x: View<JsStorage> = { ...base, shape: [40 * 3, 30], strides: [0, 1] };
    const tiled: View<JsStorage> = {
      ...contiguous('float64', [6, 30], 11),
      shape: [120, 30],
      strides: [0, 1],
    };
    for (const matrix of [x, tiled]) {
      const ours = cpu.svd(matrix, false);
      const reference = js.svd(matrix, false);
      expectSame(ours.s, reference.s, (v) => 1e-11 + 1e-11 * Math.abs(v));
      const [m, n] = matrix.shape as [number, number];
      const k = Math.min(m, n);
      const u = ours.u as Float64Array;
      const s = ours.s as Float64Array;
      const vh = ours.vh as Float64Array;
      const dense = js.copy(matrix, 'float64') as Float64Array;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let l = 0; l < k; l++) sum += u[i * k + l]! * s[l]! * vh[l * n + j]!;
          expect(Math.abs(sum - dense[i * n + j]!)).toBeLessThan(1e-12 * 40);
        }
      }
    }
  });
});
