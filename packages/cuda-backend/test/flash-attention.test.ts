/**
 * FlashAttention-2 on the GPU (kernels/flash*.cuh) against the composed float32 reference on the JS
 * backend, for the same 16-bit values: the forward output and log-sum-exp, and dq, dk, dv. Needs a GPU;
 * skips with the reason otherwise.
 */
import {
  type Dtype,
  Generator,
  randn,
  scaledDotProductAttention,
  scaledDotProductAttentionComposed,
  type Tensor,
  tensor,
} from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { gpuSkipLabel, noGpuReason } from './gpu.js';

const gpu = noGpuReason === undefined;

interface Case {
  readonly name: string;
  readonly batch: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly queries: number;
  readonly keys: number;
  readonly headDim: 64 | 128;
  readonly causal: boolean;
  readonly window?: number;
  /** Per batch row: leading padded keys (left padding), or trailing ones when negative. */
  readonly padding?: readonly number[];
  /** q, k, v as transposed views of [B, T, H, D] tensors, as the models pass them. */
  readonly transposed?: boolean;
}

const CASES: readonly Case[] = [
  {
    name: 'causal, T = 77',
    batch: 2,
    heads: 4,
    kvHeads: 4,
    queries: 77,
    keys: 77,
    headDim: 64,
    causal: true,
  },
  {
    name: 'not causal, T = 130',
    batch: 2,
    heads: 2,
    kvHeads: 2,
    queries: 130,
    keys: 130,
    headDim: 128,
    causal: false,
  },
  {
    name: 'causal with a KV-cache offset (T = 50 < S = 130)',
    batch: 1,
    heads: 4,
    kvHeads: 4,
    queries: 50,
    keys: 130,
    headDim: 128,
    causal: true,
  },
  {
    name: 'grouped-query heads 4:1',
    batch: 2,
    heads: 8,
    kvHeads: 2,
    queries: 130,
    keys: 130,
    headDim: 64,
    causal: true,
  },
  {
    name: 'sliding window 40',
    batch: 1,
    heads: 2,
    kvHeads: 2,
    queries: 200,
    keys: 200,
    headDim: 128,
    causal: true,
    window: 40,
  },
  {
    name: 'left padding with fully masked rows',
    batch: 2,
    heads: 2,
    kvHeads: 1,
    queries: 77,
    keys: 77,
    headDim: 64,
    causal: true,
    padding: [0, 20],
  },
  {
    name: 'right padding, not causal',
    batch: 2,
    heads: 2,
    kvHeads: 2,
    queries: 70,
    keys: 70,
    headDim: 128,
    causal: false,
    padding: [-5, -33],
  },
  {
    name: 'transposed views [B, T, H, D] → [B, H, T, D]',
    batch: 2,
    heads: 4,
    kvHeads: 2,
    queries: 96,
    keys: 96,
    headDim: 128,
    causal: true,
    transposed: true,
  },
  {
    name: 'everything at once',
    batch: 2,
    heads: 4,
    kvHeads: 1,
    queries: 130,
    keys: 130,
    headDim: 64,
    causal: true,
    window: 70,
    padding: [3, 0],
    transposed: true,
  },
];

/** Largest |a − b| relative to the largest |b| (at least 1). */
function relativeError(actual: Tensor, expected: Tensor): number {
  const a = actual.float().toArray() as Float32Array;
  const b = expected.float().toArray() as Float32Array;
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return Number.isNaN(a.reduce((x, y) => x + y, 0)) ? Number.POSITIVE_INFINITY : diff / scale;
}

/** The per-row natural log-sum-exp of the scaled, masked scores, in float64 loops (−∞ for empty rows). */
function referenceLse(
  c: Case,
  q: Float32Array,
  k: Float32Array,
  keep: boolean[][] | null,
  scale: number,
): Float32Array {
  const { batch: B, heads: H, kvHeads: KVH, queries: T, keys: S, headDim: D } = c;
  const lse = new Float32Array(B * H * T);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let i = 0; i < T; i++) {
        const kvh = Math.floor(h / (H / KVH));
        const position = S - T + i;
        const scores: number[] = [];
        for (let j = 0; j < S; j++) {
          const visible =
            (!c.causal || (j <= position && (c.window === undefined || j > position - c.window))) &&
            (keep === null || keep[b]![j]!);
          if (!visible) continue;
          let dot = 0;
          for (let d = 0; d < D; d++)
            dot += q[((b * H + h) * T + i) * D + d]! * k[((b * KVH + kvh) * S + j) * D + d]!;
          scores.push(dot * scale);
        }
        const max = Math.max(...scores);
        lse[(b * H + h) * T + i] =
          scores.length === 0
            ? Number.NEGATIVE_INFINITY
            : max + Math.log(scores.reduce((a, s) => a + Math.exp(s - max), 0));
      }
  return lse;
}

describe.skipIf(!gpu)(
  `flash attention on cuda agrees with the composed float32 reference${gpuSkipLabel}`,
  () => {
    for (const dtype of ['bfloat16', 'float16'] as const) {
      const tolerance = dtype === 'bfloat16' ? 3e-2 : 6e-3;
      it.each(CASES)(`${dtype}: $name`, (c) => {
        const scale = 1 / Math.sqrt(c.headDim);
        const generator = new Generator(c.queries * 7 + c.headDim);
        // The 16-bit values both sides use: drawn in float32, rounded once to the dtype.
        const draw = (heads: number, length: number) => {
          const shape = c.transposed
            ? [c.batch, length, heads, c.headDim]
            : [c.batch, heads, length, c.headDim];
          return randn(shape, { generator, backend: 'js' }).cast(dtype).float().toArray() as Float32Array;
        };
        const data = { q: draw(c.heads, c.queries), k: draw(c.kvHeads, c.keys), v: draw(c.kvHeads, c.keys) };
        const gradData = randn([c.batch, c.heads, c.queries, c.headDim], { generator, backend: 'js' })
          .cast(dtype)
          .float()
          .toArray() as Float32Array;
        const keep = c.padding
          ? c.padding.map((n) => Array.from({ length: c.keys }, (_, j) => (n >= 0 ? j >= n : j < c.keys + n)))
          : null;

        const run = (backend: string, computeDtype: Dtype, attend: typeof scaledDotProductAttention) => {
          const leaf = (values: Float32Array, heads: number, length: number) => {
            const shape = c.transposed
              ? [c.batch, length, heads, c.headDim]
              : [c.batch, heads, length, c.headDim];
            const t = tensor(values, { backend, shape }).cast(computeDtype).detach().setRequiresGrad();
            return { leaf: t, input: c.transposed ? t.transpose(1, 2) : t };
          };
          const q = leaf(data.q, c.heads, c.queries);
          const k = leaf(data.k, c.kvHeads, c.keys);
          const v = leaf(data.v, c.kvHeads, c.keys);
          const keyMask = keep ? tensor(keep, { backend, dtype: 'bool' }) : null;
          const out = attend(q.input, k.input, v.input, {
            scale,
            causal: c.causal,
            window: c.window ?? null,
            keyMask,
          });
          const grad = tensor(gradData, { backend, shape: out.shape }).cast(computeDtype);
          out.mul(grad).float().sum().backward();
          return { out, grads: { dq: q.leaf.grad!, dk: k.leaf.grad!, dv: v.leaf.grad! } };
        };

        const flash = run('cuda', dtype, scaledDotProductAttention);
        expect(flash.out.dtype).toBe(dtype);
        expect(flash.out.gradNode?.attrs.flash, 'the flash kernel ran').toBe(true);
        const reference = run('js', 'float32', scaledDotProductAttentionComposed);
        expect(relativeError(flash.out, reference.out), 'out').toBeLessThan(tolerance);
        for (const name of ['dq', 'dk', 'dv'] as const) {
          expect(flash.grads[name].shape).toEqual(reference.grads[name].shape);
          expect(relativeError(flash.grads[name], reference.grads[name]), name).toBeLessThan(tolerance);
        }

        // The saved log-sum-exp (float32 [B, H, T]), −∞ exactly for rows that see no key.
        const saved = flash.out.gradNode!.saved[1]!;
        expect(saved.dtype).toBe('float32');
        const lse = saved.toArray() as Float32Array;
        const contiguous = (values: Float32Array, heads: number, length: number) =>
          c.transposed
            ? (tensor(values, { backend: 'js', shape: [c.batch, length, heads, c.headDim] })
                .transpose(1, 2)
                .contiguous()
                .toArray() as Float32Array)
            : values;
        const expected = referenceLse(
          c,
          contiguous(data.q, c.heads, c.queries),
          contiguous(data.k, c.kvHeads, c.keys),
          keep,
          scale,
        );
        for (let i = 0; i < expected.length; i++) {
          if (expected[i] === Number.NEGATIVE_INFINITY)
            expect(lse[i], `lse row ${i}`).toBe(Number.NEGATIVE_INFINITY);
          else
            expect(Math.abs(lse[i]! - expected[i]!), `lse row ${i}`).toBeLessThan(
              1e-3 * Math.max(1, Math.abs(expected[i]!)),
            );
        }
      });
    }
  },
);
