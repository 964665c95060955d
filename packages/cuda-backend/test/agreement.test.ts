/**
 * Every kernel of the cuda backend against the JavaScript reference backend, on the same values in every
 * view layout (contiguous, transposed, stepped, broadcast, offset). Needs a GPU; skips with the reason
 * otherwise.
 */
import {
  type Backend,
  BINARY_OPS,
  type BinaryOp,
  createJsBackend,
  type Dtype,
  UNARY_OPS,
  type UnaryOp,
} from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { createCudaBackend } from '../src/index.js';
import { gpuSkipLabel, noGpuReason } from './gpu.js';
import { contiguous, expectClose, hostValues, LAYOUTS, tolerance, twin } from './views.js';

const gpu = noGpuReason === undefined;
const js = createJsBackend('js-reference') as Backend;
const cuda = (gpu ? createCudaBackend('cuda-agreement') : undefined) as Backend;

/** Runs a kernel returning one storage of `outDtype` and `size` elements on both backends and compares. */
function compare(
  label: string,
  outDtype: Dtype,
  size: number,
  run: (backend: Backend, side: 'js' | 'cuda') => unknown,
  rtol = tolerance(outDtype),
  atol = rtol,
): void {
  const expected = js.toHost(contiguous(run(js, 'js'), outDtype, [size]));
  const actual = cuda.toHost(contiguous(run(cuda, 'cuda'), outDtype, [size]));
  expectClose(actual, expected, rtol, atol, label);
}

const UNARY: readonly UnaryOp[] = UNARY_OPS;
const BINARY: readonly BinaryOp[] = BINARY_OPS;
const BOOLEAN_OUT = new Set(['not', 'isnan', 'isinf', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or']);
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe.skipIf(!gpu)(`cuda kernels agree with the JavaScript reference${gpuSkipLabel}`, () => {
  const shape = [3, 4, 5];

  it('unary ops, every layout, float32/float64/bfloat16/float16/int32', () => {
    for (const dtype of ['float32', 'float64', 'bfloat16', 'float16', 'int32'] as const) {
      for (const op of UNARY) {
        const positive = ['log', 'sqrt', 'rsqrt', 'pow_scalar'].includes(op);
        if (dtype === 'int32' && !['neg', 'abs', 'sign', 'square', 'relu', 'not', 'clamp'].includes(op))
          continue;
        const outDtype: Dtype = BOOLEAN_OUT.has(op) ? 'bool' : dtype;
        const params = op === 'pow_scalar' ? [1.7] : op === 'clamp' ? [-1, 1.5] : [];
        for (const [k, layout] of LAYOUTS.entries()) {
          const x = twin(js, cuda, dtype, shape, layout, 11 + k, {
            positive,
            specials: dtype !== 'int32' && !positive,
          });
          compare(
            `${op} ${dtype} ${layout}`,
            outDtype,
            size(shape),
            (b, side) => b.unary(op, x[side], outDtype, params),
            tolerance(outDtype) * 4,
            1e-6,
          );
        }
      }
    }
  });

  it('binary ops with broadcasting, float32/float64/bfloat16/int32', () => {
    for (const dtype of ['float32', 'float64', 'bfloat16', 'int32'] as const) {
      for (const op of BINARY) {
        if (dtype === 'int32' && ['div', 'pow'].includes(op)) continue;
        const outDtype: Dtype = BOOLEAN_OUT.has(op) ? 'bool' : dtype;
        for (const [k, layout] of LAYOUTS.entries()) {
          const a = twin(js, cuda, dtype, shape, layout, 21 + k, { positive: op === 'pow' });
          const b = twin(js, cuda, dtype, shape, k % 2 ? 'broadcast' : 'contiguous', 31 + k, {
            scale: op === 'pow' ? 2 : 3,
          });
          compare(
            `${op} ${dtype} ${layout}`,
            outDtype,
            size(shape),
            (be, s) => be.binary(op, a[s], b[s], outDtype),
            tolerance(outDtype) * 4,
            1e-6,
          );
        }
      }
    }
  });

  it('where, copy between every pair of dtypes, and strided assign', () => {
    const dtypes: Dtype[] = ['float32', 'float64', 'float16', 'bfloat16', 'int32', 'int64', 'bool'];
    const c = twin(js, cuda, 'bool', shape, 'transposed', 5);
    const a = twin(js, cuda, 'float32', shape, 'stepped', 6);
    const b = twin(js, cuda, 'float32', shape, 'broadcast', 7);
    compare('where', 'float32', size(shape), (be, s) => be.where(c[s], a[s], b[s], 'float32'), 0, 0);
    for (const from of dtypes) {
      for (const to of dtypes) {
        const x = twin(js, cuda, from, shape, 'transposed', 41, { integers: [-300, 300] });
        compare(`copy ${from}→${to}`, to, size(shape), (be, s) => be.copy(x[s], to), 0, 0);
      }
    }
    for (const dtype of ['float32', 'bfloat16', 'int64'] as const) {
      const src = twin(js, cuda, 'float64', shape, 'broadcast', 9, { integers: [-5, 5] });
      const run = (be: Backend, s: 'js' | 'cuda') => {
        const storage = be.full(dtype, 2 * size(shape), -1);
        // dst: a transposed, stepped window of a larger buffer.
        be.assign({ storage, dtype, shape, strides: [40, 10, 2], offset: 1 }, src[s]);
        return storage;
      };
      compare(`assign →${dtype}`, dtype, 2 * size(shape), run, 0, 0);
    }
  });

  it('full, arange and random are bit-identical', () => {
    for (const dtype of ['float32', 'float64', 'bfloat16', 'int32', 'int64', 'bool'] as const) {
      compare(`full ${dtype}`, dtype, 37, (b) => b.full(dtype, 37, 3), 0, 0);
      // (No op asks for a bool arange; the reference would wrap values modulo 256 there.)
      if (dtype !== 'bool') compare(`arange ${dtype}`, dtype, 37, (b) => b.arange(dtype, -4, 2, 37), 0, 0);
    }
    const specs = [
      { kind: 'uniform', low: -2, high: 5 },
      { kind: 'normal', mean: 1, std: 0.5 },
      { kind: 'bernoulli', p: 0.3 },
      { kind: 'randint', low: -3, high: 1000 },
    ] as const;
    for (const spec of specs) {
      for (const dtype of ['float32', 'float64', 'bfloat16'] as const) {
        const tol = spec.kind === 'normal' && dtype === 'float64' ? 1e-15 : 0;
        compare(
          `random ${spec.kind} ${dtype}`,
          dtype,
          10_001,
          (b) => b.random(dtype, 10_001, spec, [123456789, 987654321], 2 ** 33 + 5),
          tol,
          tol,
        );
      }
    }
    compare('random randint int64', 'int64', 999, (b) => b.random('int64', 999, specs[3], [7, 9], 0), 0, 0);
  });

  it('reductions, arg-reductions and softmax over any axes', () => {
    const big = [6, 130, 9];
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      for (const op of ['sum', 'prod', 'max', 'min'] as const) {
        for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
          const x = twin(js, cuda, dtype, big, axes.length === 1 ? 'transposed' : 'stepped', 51, {
            specials: op === 'max' && dtype !== 'int32',
            scale: op === 'prod' ? 1.01 : 3,
          });
          const kept = big.filter((_, i) => !axes.includes(i));
          compare(
            `${op} ${dtype} ${axes}`,
            dtype,
            size(kept),
            (b, s) => b.reduce(op, x[s], axes, dtype),
            1e-5,
            1e-5,
          );
        }
      }
    }
    for (const op of ['argmax', 'argmin'] as const) {
      for (const axis of [0, 1, 2]) {
        const x = twin(js, cuda, 'float32', big, 'transposed', 61 + axis, {
          specials: axis === 1,
          integers: [0, 5],
        });
        compare(
          `${op} ${axis}`,
          'int64',
          size(big) / big[axis]!,
          (b, s) => b.argReduce(op, x[s], axis),
          0,
          0,
        );
      }
    }
    for (const log of [false, true]) {
      for (const axis of [0, 2]) {
        const x = twin(js, cuda, 'float32', [4, 3, 3000], 'offset', 71, { scale: 10 });
        compare(
          `softmax log=${log} axis ${axis}`,
          'float32',
          4 * 3 * 3000,
          (b, s) => b.softmax(x[s], axis, log),
          1e-5,
          1e-6,
        );
      }
    }
  });

  it('matrix products: dtypes, transposes, broadcast batches, integers', () => {
    const cases: [Dtype, number, number][] = [
      ['float32', 1e-5, 1e-5],
      ['float64', 1e-12, 1e-12],
      ['bfloat16', 2e-2, 5e-2],
      ['float16', 2e-3, 1e-2],
      ['int32', 0, 0],
    ];
    for (const [dtype, rtol, atol] of cases) {
      for (const [m, k, n] of [
        [33, 17, 9],
        [1, 64, 5],
        [8, 1, 8],
      ] as [number, number, number][]) {
        for (const [la, lb] of [
          ['contiguous', 'contiguous'],
          ['transposed', 'contiguous'],
          ['contiguous', 'transposed'],
          ['transposed', 'transposed'],
        ] as const) {
          const a = twin(js, cuda, dtype, [m, k], la, m + k, {
            scale: 1,
            integers: dtype === 'int32' ? [-4, 4] : undefined,
          });
          const b = twin(js, cuda, dtype, [k, n], lb, k + n, {
            scale: 1,
            integers: dtype === 'int32' ? [-4, 4] : undefined,
          });
          compare(
            `matmul ${dtype} ${m}x${k}x${n} ${la}/${lb}`,
            dtype,
            m * n,
            (be, s) => be.matmul(a[s], b[s], dtype),
            rtol,
            atol,
          );
        }
      }
      // Batched, with the second operand broadcast over the batch (stride 0) and a two-dim batch.
      const a = twin(js, cuda, dtype, [2, 3, 7, 5], 'offset', 3, {
        scale: 1,
        integers: dtype === 'int32' ? [-4, 4] : undefined,
      });
      const b = twin(js, cuda, dtype, [2, 3, 5, 4], 'broadcast', 4, {
        scale: 1,
        integers: dtype === 'int32' ? [-4, 4] : undefined,
      });
      compare(
        `batched matmul ${dtype}`,
        dtype,
        2 * 3 * 7 * 4,
        (be, s) => be.matmul(a[s], b[s], dtype),
        rtol,
        atol,
      );
    }
  });

  it('mixed-dtype skinny products (16-bit · float32, one side ≤ 64) read both operands as they are', () => {
    // [m, k, n, layout of a, layout of b]: x·Aᵀ and g·B (narrow n, rows kernel), gᵀ·h (a transposed,
    // column kernel), ghᵀ·x (narrow m, column kernel written transposed); r = 16 and r = 40; k not a
    // multiple of the 128-row chunk.
    const cases: [number, number, number, 'contiguous' | 'transposed', 'contiguous' | 'transposed'][] = [
      [300, 200, 16, 'contiguous', 'transposed'],
      [300, 1000, 40, 'contiguous', 'contiguous'],
      [150, 1000, 16, 'transposed', 'contiguous'],
      [16, 1000, 150, 'transposed', 'contiguous'],
      [40, 300, 200, 'contiguous', 'contiguous'],
    ];
    for (const [m, k, n, la, lb] of cases) {
      for (const [da, db] of [
        ['bfloat16', 'float32'],
        ['float32', 'bfloat16'],
        ['float16', 'float32'],
      ] as [Dtype, Dtype][]) {
        const a = twin(js, cuda, da, [m, k], la, m + k, { scale: 1 });
        const b = twin(js, cuda, db, [k, n], lb, k + n, { scale: 1 });
        compare(
          `mixed matmul ${da}·${db} ${m}x${k}x${n} ${la}/${lb}`,
          'float32',
          m * n,
          (be, side) => be.matmul(a[side], b[side], 'float32'),
          1e-5,
          1e-4,
        );
      }
    }
  });

  it('loraExpand: base + s·h·m rounded once to the 16-bit dtype (and with the term rounded first)', () => {
    const f32 = new Float32Array(1);
    const bits = new Uint32Array(f32.buffer);
    const roundBf16 = (v: number) => {
      f32[0] = v;
      bits[0] = ((bits[0]! + 0x7fff + ((bits[0]! >>> 16) & 1)) >>> 0) & 0xffff0000;
      return f32[0]!;
    };
    for (const [rows, N, r] of [
      [70, 150, 16],
      [33, 300, 40],
    ] as [number, number, number][]) {
      for (const layout of ['contiguous', 'transposed'] as const) {
        for (const roundTerm of [false, true]) {
          const base = twin(js, cuda, 'bfloat16', [rows, N], layout, rows + N, { scale: 1 });
          const h = twin(js, cuda, 'float32', [rows, r], 'contiguous', r, { scale: 1 });
          const m = twin(js, cuda, 'float32', [r, N], 'transposed', N, { scale: 1 });
          const read = (v: { js: unknown }) => js.toHost(v.js as never) as Float32Array;
          const [bv, hv, mv] = [read(base), read(h), read(m)];
          const expected = new Float32Array(rows * N);
          for (let i = 0; i < rows; i++) {
            for (let c = 0; c < N; c++) {
              let t = 0;
              for (let j = 0; j < r; j++) t = Math.fround(t + Math.fround(hv[i * r + j]! * mv[j * N + c]!));
              t = Math.fround(t * 0.5);
              if (roundTerm) t = roundBf16(t);
              expected[i * N + c] = roundBf16(Math.fround(bv[i * N + c]! + t));
            }
          }
          const out = cuda.loraExpand!(base.cuda, h.cuda, m.cuda, 0.5, roundTerm);
          const actual = cuda.toHost(contiguous(out, 'bfloat16', [rows * N])) as Float32Array;
          expectClose(
            actual,
            expected,
            2 ** -7,
            1e-3,
            `loraExpand ${rows}x${N} r=${r} ${layout} ${roundTerm}`,
          );
        }
      }
    }
    const h = twin(js, cuda, 'float32', [4, 65], 'contiguous', 1);
    const m = twin(js, cuda, 'float32', [65, 8], 'contiguous', 2);
    const base = twin(js, cuda, 'bfloat16', [4, 8], 'contiguous', 3);
    expect(cuda.loraExpand!(base.cuda, h.cuda, m.cuda, 1, false)).toBeNull();
  });

  it('gather, indexSelect, scatterAdd, indexAdd and scatterAddInPlace', () => {
    const x = twin(js, cuda, 'float32', [5, 6], 'transposed', 81);
    const index = twin(js, cuda, 'int64', [4, 6], 'contiguous', 82, { integers: [0, 5] });
    compare('gather 0', 'float32', 24, (b, s) => b.gather(x[s], 0, index[s]), 0, 0);
    const picks = twin(js, cuda, 'int32', [7], 'stepped', 83, { integers: [0, 6] });
    compare('indexSelect 1', 'float32', 35, (b, s) => b.indexSelect(x[s], 1, picks[s]), 0, 0);
    const src = twin(js, cuda, 'float32', [4, 6], 'offset', 84);
    compare(
      'scatterAdd',
      'float32',
      30,
      (b, s) => b.scatterAdd([5, 6], 'float32', 0, index[s], src[s]),
      1e-6,
      1e-6,
    );
    compare(
      'scatterAdd bf16',
      'bfloat16',
      30,
      (b, s) => b.scatterAdd([5, 6], 'bfloat16', 0, index[s], src[s]),
      1e-2,
      1e-2,
    );
    const rows = twin(js, cuda, 'int64', [4], 'contiguous', 85, { integers: [0, 5] });
    const values = twin(js, cuda, 'float64', [4, 6], 'transposed', 86);
    compare(
      'indexAdd',
      'float64',
      30,
      (b, s) => b.indexAdd([5, 6], 'float64', 0, rows[s], values[s]),
      1e-12,
      1e-12,
    );
    compare(
      'scatterAddInPlace',
      'float32',
      30,
      (b, s) => {
        const dst = b.full('float32', 30, 1);
        b.scatterAddInPlace!(contiguous(dst, 'float32', [5, 6]), 0, index[s], src[s]);
        return dst;
      },
      1e-6,
      1e-6,
    );
  });

  it('stable sort with ties and NaN, in shared memory and in global memory', () => {
    for (const [lineShape, axis] of [
      [[9, 7], 1],
      [[7, 9], 0],
      [[2, 40_000], 1],
    ] as const) {
      for (const descending of [false, true]) {
        for (const dtype of ['float32', 'int32'] as const) {
          const x = twin(js, cuda, dtype, lineShape, 'transposed', 91, {
            integers: [0, 6],
            specials: dtype === 'float32',
          });
          const n = size(lineShape);
          const expected = js.sort(x.js, axis, descending);
          const actual = cuda.sort(x.cuda, axis, descending);
          const label = `sort ${lineShape} axis ${axis} desc=${descending} ${dtype}`;
          expectClose(
            cuda.toHost(contiguous(actual.values, dtype, [n])),
            js.toHost(contiguous(expected.values, dtype, [n])),
            0,
            0,
            label,
          );
          expectClose(
            cuda.toHost(contiguous(actual.indices, 'int64', [n])),
            js.toHost(contiguous(expected.indices, 'int64', [n])),
            0,
            0,
            label,
          );
        }
      }
    }
  });

  it('im2col and col2im', () => {
    const geometry = {
      kernel: [3, 2],
      stride: [2, 1],
      padding: [1, 0],
      dilation: [1, 2],
      outSpatial: [3, 3],
    };
    const x = twin(js, cuda, 'float32', [2, 3, 5, 5], 'offset', 101);
    compare('im2col', 'float32', 2 * 18 * 9, (b, s) => b.im2col(x[s], geometry), 0, 0);
    const columns = twin(js, cuda, 'float32', [2, 18, 9], 'contiguous', 102);
    compare(
      'col2im',
      'float32',
      2 * 3 * 25,
      (b, s) => b.col2im(columns[s], geometry, [2, 3, 5, 5]),
      1e-6,
      1e-6,
    );
  });

  it('svd, qr and eigh reproduce the matrix and the reference spectra', () => {
    const read = (b: Backend, s: unknown, shape: number[]) =>
      Array.from(b.toHost(contiguous(s, 'float64', shape)) as Float64Array);
    const product = (a: number[], b: number[], m: number, k: number, n: number) => {
      const out = new Array<number>(m * n).fill(0);
      for (let i = 0; i < m; i++)
        for (let p = 0; p < k; p++)
          for (let j = 0; j < n; j++) out[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
      return out;
    };
    for (const [m, n] of [
      [7, 4],
      [4, 7],
      [5, 5],
    ] as [number, number][]) {
      const x = twin(js, cuda, 'float64', [m, n], 'transposed', m * 10 + n);
      const original = Array.from(js.toHost(x.js) as Float64Array);
      const k = Math.min(m, n);
      for (const full of [false, true]) {
        const r = cuda.svd(x.cuda, full);
        const ku = full ? m : k;
        const kv = full ? n : k;
        const u = read(cuda, r.u, [m, ku]);
        const s = read(cuda, r.s, [k]);
        const vh = read(cuda, r.vh, [kv, n]);
        // With full matrices, only the first k columns of u and rows of vh meet singular values.
        const us = Array.from({ length: m * k }, (_, i) => u[Math.floor(i / k) * ku + (i % k)]! * s[i % k]!);
        const reconstructed = product(us, vh.slice(0, k * n), m, k, n);
        expectClose(
          Float64Array.from(reconstructed),
          Float64Array.from(original),
          1e-10,
          1e-10,
          `svd ${m}x${n} full=${full}`,
        );
        const reference = js.svd(x.js, false);
        expectClose(
          Float64Array.from(s),
          js.toHost(contiguous(reference.s, 'float64', [k])),
          1e-10,
          1e-12,
          `singular values ${m}x${n}`,
        );
      }
      const q = cuda.qr(x.cuda);
      expectClose(
        Float64Array.from(product(read(cuda, q.q, [m, k]), read(cuda, q.r, [k, n]), m, k, n)),
        Float64Array.from(original),
        1e-10,
        1e-10,
        `qr ${m}x${n}`,
      );
      const r = read(cuda, q.r, [k, n]);
      for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) expect(r[i * n + j]).toBe(0);
    }
    const a = twin(js, cuda, 'float64', [6, 6], 'contiguous', 7);
    const host = Array.from(js.toHost(a.js) as Float64Array);
    const symmetric = host.map((v, i) => v + host[(i % 6) * 6 + Math.floor(i / 6)]!);
    const sym = {
      js: contiguous(js.fromHost(Float64Array.from(symmetric), 'float64'), 'float64', [6, 6]),
      cuda: contiguous(cuda.fromHost(Float64Array.from(symmetric), 'float64'), 'float64', [6, 6]),
    };
    const e = cuda.eigh(sym.cuda);
    const values = read(cuda, e.values, [6]);
    expectClose(
      Float64Array.from(values),
      js.toHost(contiguous(js.eigh(sym.js).values, 'float64', [6])),
      1e-10,
      1e-10,
      'eigh values',
    );
    const v = read(cuda, e.vectors, [6, 6]);
    const av = product(symmetric, v, 6, 6, 6);
    const vl = v.map((x, i) => x * values[i % 6]!);
    expectClose(Float64Array.from(av), Float64Array.from(vl), 1e-9, 1e-9, 'A·V = V·Λ');
  });

  it('fused kernels: norms, LoRA linear, rotary, SwiGLU, attention softmax, cross-entropy', () => {
    const x = twin(js, cuda, 'float32', [6, 1500], 'offset', 111);
    const w = twin(js, cuda, 'float32', [1500], 'contiguous', 112);
    const bias = twin(js, cuda, 'float32', [1500], 'stepped', 113);
    compare('rmsNorm', 'float32', 9000, (b, s) => b.rmsNorm!(x[s], w[s], 1e-6).out, 1e-5, 1e-6);
    compare('rmsNorm rstd', 'float32', 6, (b, s) => b.rmsNorm!(x[s], null, 1e-6).rstd, 1e-6, 1e-7);
    compare('layerNorm', 'float32', 9000, (b, s) => b.layerNorm!(x[s], w[s], bias[s], 1e-5).out, 1e-5, 1e-6);
    const small = twin(js, cuda, 'float32', [40, 24], 'transposed', 114);
    compare(
      'layerNorm warp rows',
      'float32',
      960,
      (b, s) => b.layerNorm!(small[s], null, null, 1e-5).out,
      1e-5,
      1e-6,
    );

    const input = twin(js, cuda, 'float32', [10, 32], 'contiguous', 121, { scale: 1 });
    const weight = twin(js, cuda, 'float32', [24, 32], 'contiguous', 122, { scale: 1 });
    const linearBias = twin(js, cuda, 'float32', [24], 'contiguous', 123);
    const loraA = twin(js, cuda, 'float32', [4, 32], 'contiguous', 124, { scale: 1 });
    const loraB = twin(js, cuda, 'float32', [24, 4], 'contiguous', 125, { scale: 1 });
    compare(
      'loraLinear',
      'float32',
      240,
      (b, s) => b.loraLinear!(input[s], weight[s], linearBias[s], loraA[s], loraB[s], 0.5).out,
      1e-5,
      1e-5,
    );
    compare(
      'loraLinear hidden',
      'float32',
      40,
      (b, s) => b.loraLinear!(input[s], weight[s], null, loraA[s], loraB[s], 2).hidden,
      1e-5,
      1e-5,
    );

    const q = twin(js, cuda, 'float32', [2, 3, 5, 8], 'transposed', 131);
    const cos = twin(js, cuda, 'float32', [2, 3, 5, 8], 'broadcast', 132);
    const sin = twin(js, cuda, 'float32', [2, 3, 5, 8], 'broadcast', 133);
    for (const transposed of [false, true]) {
      compare(
        `rotary transposed=${transposed}`,
        'float32',
        240,
        (b, s) => b.rotary!(q[s], cos[s], sin[s], transposed),
        1e-6,
        1e-6,
      );
    }
    const gate = twin(js, cuda, 'float32', [7, 9], 'stepped', 141);
    const up = twin(js, cuda, 'float32', [7, 9], 'broadcast', 142);
    const grad = twin(js, cuda, 'float32', [7, 9], 'contiguous', 143);
    compare('swiglu', 'float32', 63, (b, s) => b.swiglu!(gate[s], up[s]), 1e-6, 1e-6);
    compare(
      'swigluBackward gate',
      'float32',
      63,
      (b, s) => b.swigluBackward!(grad[s], gate[s], up[s], [true, true]).gate,
      1e-6,
      1e-6,
    );
    compare(
      'swigluBackward up',
      'float32',
      63,
      (b, s) => b.swigluBackward!(grad[s], gate[s], up[s], [false, true]).up,
      1e-6,
      1e-6,
    );

    const scores = twin(js, cuda, 'float32', [2, 3, 4, 1200], 'offset', 151);
    const maskBias = twin(js, cuda, 'float32', [2, 3, 4, 1200], 'broadcast', 152);
    for (const causal of [false, true]) {
      compare(
        `attentionSoftmax causal=${causal}`,
        'float32',
        28_800,
        (b, s) => b.attentionSoftmax!(scores[s], 0.125, maskBias[s], causal),
        1e-5,
        1e-7,
      );
    }
    const probs = twin(js, cuda, 'float32', [2, 3, 4, 9], 'contiguous', 153, { positive: true, scale: 0.2 });
    const dProbs = twin(js, cuda, 'float32', [2, 3, 4, 9], 'transposed', 154);
    compare(
      'attentionSoftmaxBackward',
      'float32',
      216,
      (b, s) => b.attentionSoftmaxBackward!(dProbs[s], probs[s], 0.5),
      1e-5,
      1e-6,
    );

    const logProbs = twin(js, cuda, 'float32', [5, 11], 'transposed', 161, { scale: 4 });
    const rowGrad = twin(js, cuda, 'float32', [5], 'contiguous', 162);
    const targets = twin(js, cuda, 'int64', [5, 1], 'contiguous', 163, { integers: [0, 11] });
    compare(
      'softmaxCrossEntropyBackward',
      'float32',
      55,
      (b, s) => b.softmaxCrossEntropyBackward!(logProbs[s], rowGrad[s], targets[s]),
      2e-6,
      1e-7,
    );
  });

  it('AdamW is bit-identical to the reference, with and without AMSGrad', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const amsgrad of [false, true]) {
        const n = 1000;
        const host = [1, 2, 3, 4, 5].map((seed) =>
          hostValues(dtype, n, seed, { positive: seed === 4 || seed === 5 }),
        );
        const run = (b: Backend) => {
          const [p, g, m, v, vmax] = host.map((h) => b.fromHost(h, dtype));
          const view = (s: unknown) => contiguous(s, dtype, [n]);
          for (let step = 1; step <= 3; step++) {
            b.adamwStep!(view(p), view(g), view(m), view(v), amsgrad ? view(vmax) : null, {
              lr: 1e-3,
              beta1: 0.9,
              beta2: 0.999,
              eps: 1e-8,
              weightDecay: 0.01,
              step,
            });
          }
          return [p, m, v].map((s) => b.toHost(view(s)));
        };
        const expected = run(js);
        const actual = run(cuda);
        for (let i = 0; i < 3; i++)
          expectClose(actual[i]!, expected[i]!, 0, 0, `adamw ${dtype} amsgrad=${amsgrad} #${i}`);
      }
    }
  });

  it('multi-tensor AdamW is bit-identical to one adamwStep per parameter (sizes across a chunk of 48)', () => {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const amsgrad of [false, true]) {
        const sizes = Array.from({ length: 53 }, (_, i) => (i * 37) % 700);
        const host = sizes.map((n, i) =>
          [1, 2, 3, 4, 5].map((seed) => hostValues(dtype, n, seed + 5 * i, { positive: seed >= 4 })),
        );
        const options = (step: number) => ({
          lr: 1e-3,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0.01,
          step,
        });
        const run = (b: Backend, multi: boolean) => {
          const tensors = host.map((values, i) => {
            const [p, g, m, v, vmax] = values.map((h) => b.fromHost(h, dtype));
            const view = (s: unknown) => contiguous(s, dtype, [sizes[i]!]);
            return {
              param: view(p),
              grad: view(g),
              expAvg: view(m),
              expAvgSq: view(v),
              maxExpAvgSq: amsgrad ? view(vmax) : null,
            };
          });
          for (let step = 1; step <= 3; step++) {
            if (multi) b.adamwStepMulti!(tensors, options(step));
            else
              for (const t of tensors)
                b.adamwStep!(t.param, t.grad, t.expAvg, t.expAvgSq, t.maxExpAvgSq, options(step));
          }
          return tensors.flatMap((t) => [t.param, t.expAvg, t.expAvgSq].map((v) => b.toHost(v)));
        };
        const expected = run(js, false);
        const actual = run(cuda, true);
        actual.forEach((a, i) => {
          expectClose(a, expected[i]!, 0, 0, `adamwStepMulti ${dtype} amsgrad=${amsgrad} #${i}`);
        });
      }
    }
  });

  it('device index checks raise the op’s error at the next read, then reads work again', () => {
    const index = cuda.fromHost(BigInt64Array.from([0n, 3n, 9n]), 'int64');
    cuda.checkIndexBounds!(contiguous(index, 'int64', [3]), {
      low: 0,
      high: 5,
      error: (value) => new RangeError(`[gather] index ${value} is out of range for dimension 0 of size 5`),
    });
    const x = cuda.fromHost(Float32Array.from([1, 2]), 'float32');
    expect(() => cuda.toHost(contiguous(x, 'float32', [2]))).toThrow(
      '[gather] index 9 is out of range for dimension 0 of size 5',
    );
    expect(Array.from(cuda.toHost(contiguous(x, 'float32', [2])) as Float32Array)).toEqual([1, 2]);
  });

  it('NF4 and int8 dequantization match the reference', () => {
    const words = hostValues('int32', 64, 5, { integers: [-(2 ** 31), 2 ** 31 - 1] });
    const absmax = hostValues('float32', 8, 6, { positive: true });
    const codebook = hostValues('float32', 16, 7);
    const view = (b: Backend, h: Parameters<Backend['fromHost']>[0], dtype: Dtype) =>
      contiguous(b.fromHost(h, dtype), dtype, [h.length]);
    for (const out of ['float32', 'bfloat16', 'float64'] as const) {
      compare(
        `dequantize4bit ${out}`,
        out,
        500,
        (b) =>
          b.dequantize4bit!(
            view(b, words, 'int32'),
            view(b, absmax, 'float32'),
            view(b, codebook, 'float32'),
            500,
            64,
            out,
          ),
        0,
        0,
      );
      compare(
        `dequantizeInt8 ${out}`,
        out,
        250,
        (b) => b.dequantizeInt8!(view(b, words, 'int32'), view(b, absmax, 'float32'), 5, 50, 1 / 127, out),
        0,
        0,
      );
    }
  });
});
