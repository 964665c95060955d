/**
 * The flash path of scaledDotProductAttention, on the CPU: a test backend wraps the JS backend and
 * implements `flashAttention`/`flashAttentionBackward` with plain float64 loops over the definition, so
 * the recorded op (GQA, causal offsets, windows, key masks, gradients, 16-bit inputs kept 16-bit) is
 * checked against the composed reference without a GPU.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlashAttentionOptions, View } from '../backend/kernels.js';
import { getBackend, registerBackend, unregisterBackend } from '../backend/registry.js';
import {
  type Dtype,
  Generator,
  randn,
  scaledDotProductAttention,
  scaledDotProductAttentionComposed,
  type Tensor,
  tensor,
} from '../index.js';

const NAME = 'js-flash';
const calls: { op: string; dtype: Dtype }[] = [];

interface Problem {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  mask: Uint8Array | null;
  shape: { B: number; H: number; KVH: number; T: number; S: number; D: number };
  options: FlashAttentionOptions;
}

function problem(
  host: (v: View) => ArrayLike<number>,
  q: View,
  k: View,
  v: View,
  keyMask: View | null,
  options: FlashAttentionOptions,
): Problem {
  const [B, H, T, D] = q.shape as [number, number, number, number];
  const [, KVH, S] = k.shape as [number, number, number];
  return {
    q: Float32Array.from(host(q)),
    k: Float32Array.from(host(k)),
    v: Float32Array.from(host(v)),
    mask: keyMask ? Uint8Array.from(host(keyMask)) : null,
    shape: { B, H, KVH, T, S, D },
    options,
  };
}

/** Probabilities of one query row (null where the key is not visible) and its log-sum-exp. */
function row(p: Problem, b: number, h: number, i: number): { probs: (number | null)[]; lse: number } {
  const { H, KVH, T, S, D } = p.shape;
  const kvh = Math.floor(h / (H / KVH));
  const position = S - T + i;
  const scores: (number | null)[] = [];
  for (let j = 0; j < S; j++) {
    const { causal, window } = p.options;
    const visible =
      (!causal || (j <= position && (window === null || j > position - window))) && p.mask?.[b * S + j] !== 0;
    if (!visible) {
      scores.push(null);
      continue;
    }
    let dot = 0;
    for (let d = 0; d < D; d++)
      dot += p.q[((b * H + h) * T + i) * D + d]! * p.k[((b * KVH + kvh) * S + j) * D + d]!;
    scores.push(dot * p.options.scale);
  }
  const max = Math.max(...scores.map((s) => s ?? Number.NEGATIVE_INFINITY));
  if (max === Number.NEGATIVE_INFINITY) return { probs: scores, lse: max };
  const sum = scores.reduce<number>((a, s) => a + (s === null ? 0 : Math.exp(s - max)), 0);
  return {
    probs: scores.map((s) => (s === null ? null : Math.exp(s - max) / sum)),
    lse: max + Math.log(sum),
  };
}

function registerFlashBackend(): void {
  const js = getBackend('js');
  const host = (v: View) => js.toHost(v) as Float32Array;
  registerBackend({
    ...js,
    name: NAME,
    flashAttention(q, k, v, keyMask, options) {
      calls.push({ op: 'forward', dtype: q.dtype });
      const p = problem(host, q, k, v, keyMask, options);
      const { B, H, KVH, T, S, D } = p.shape;
      const out = new Float32Array(B * H * T * D);
      const lse = new Float32Array(B * H * T);
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < T; i++) {
            const r = row(p, b, h, i);
            lse[(b * H + h) * T + i] = r.lse;
            const kvh = Math.floor(h / (H / KVH));
            for (let d = 0; d < D; d++) {
              let sum = 0;
              for (let j = 0; j < S; j++) sum += (r.probs[j] ?? 0) * p.v[((b * KVH + kvh) * S + j) * D + d]!;
              out[((b * H + h) * T + i) * D + d] = sum;
            }
          }
      return { out: js.fromHost(out, q.dtype), logsumexp: js.fromHost(lse, 'float32') };
    },
    flashAttentionBackward(grad, q, k, v, _out, _logsumexp, keyMask, options) {
      calls.push({ op: 'backward', dtype: q.dtype });
      const p = problem(host, q, k, v, keyMask, options);
      const g = Float32Array.from(host(grad));
      const { B, H, KVH, T, S, D } = p.shape;
      const dq = new Float32Array(B * H * T * D);
      const dk = new Float32Array(B * KVH * S * D);
      const dv = new Float32Array(B * KVH * S * D);
      for (let b = 0; b < B; b++)
        for (let h = 0; h < H; h++)
          for (let i = 0; i < T; i++) {
            const { probs } = row(p, b, h, i);
            const kvh = Math.floor(h / (H / KVH));
            const qi = ((b * H + h) * T + i) * D;
            const dp = probs.map((_, j) => {
              let dot = 0;
              for (let d = 0; d < D; d++) dot += g[qi + d]! * p.v[((b * KVH + kvh) * S + j) * D + d]!;
              return dot;
            });
            const delta = probs.reduce<number>((a, pj, j) => a + (pj ?? 0) * dp[j]!, 0);
            for (let j = 0; j < S; j++) {
              const pj = probs[j] ?? 0;
              const ds = pj * (dp[j]! - delta) * options.scale;
              const kj = ((b * KVH + kvh) * S + j) * D;
              for (let d = 0; d < D; d++) {
                dq[qi + d] = dq[qi + d]! + ds * p.k[kj + d]!;
                dk[kj + d] = dk[kj + d]! + ds * p.q[qi + d]!;
                dv[kj + d] = dv[kj + d]! + pj * g[qi + d]!;
              }
            }
          }
      return {
        dq: js.fromHost(dq, q.dtype),
        dk: js.fromHost(dk, q.dtype),
        dv: js.fromHost(dv, q.dtype),
      };
    },
  });
}

/** Max |a − b| over all elements. */
function maxError(a: Tensor, b: Tensor): number {
  const x = a.float().toArray() as Float32Array;
  const y = b.float().toArray() as Float32Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

interface Case {
  readonly name: string;
  readonly q: [number, number, number, number];
  readonly kv: [number, number, number, number];
  readonly causal?: boolean;
  readonly window?: number;
  /** Per batch row: how many leading keys are padding. */
  readonly leftPadding?: number[];
  readonly transposed?: boolean;
}

const CASES: Case[] = [
  { name: 'plain', q: [2, 2, 5, 4], kv: [2, 2, 5, 4] },
  { name: 'causal with a KV-cache offset (S > T)', q: [1, 2, 3, 4], kv: [1, 2, 7, 4], causal: true },
  { name: 'grouped-query heads (4 over 1)', q: [2, 4, 5, 3], kv: [2, 1, 5, 3], causal: true },
  { name: 'a sliding window', q: [1, 2, 6, 4], kv: [1, 2, 6, 4], causal: true, window: 3 },
  {
    name: 'left padding, one query row with no key',
    q: [2, 2, 5, 4],
    kv: [2, 2, 5, 4],
    causal: true,
    leftPadding: [0, 2],
  },
  { name: 'key padding, not causal', q: [2, 1, 3, 4], kv: [2, 1, 6, 4], leftPadding: [1, 3] },
  {
    name: 'transposed views [B, T, H, D] → [B, H, T, D]',
    q: [2, 2, 5, 4],
    kv: [2, 2, 5, 4],
    transposed: true,
  },
];

describe('scaledDotProductAttention through a backend flashAttention kernel', () => {
  beforeAll(registerFlashBackend);
  afterAll(() => unregisterBackend(NAME));

  function inputs(c: Case, backend: string, dtype: Dtype = 'float32') {
    const generator = new Generator(11);
    const make = ([b, h, t, d]: [number, number, number, number]) => {
      const base = randn(c.transposed ? [b, t, h, d] : [b, h, t, d], { generator, backend })
        .cast(dtype)
        .detach()
        .setRequiresGrad();
      return { leaf: base, view: c.transposed ? base.transpose(1, 2) : base };
    };
    const q = make(c.q);
    const k = make(c.kv);
    const v = make(c.kv);
    const keys = c.kv[2];
    const keyMask = c.leftPadding
      ? tensor(
          c.leftPadding.map((n) => Array.from({ length: keys }, (_, j) => j >= n)),
          { backend, dtype: 'bool' },
        )
      : null;
    return { q, k, v, keyMask };
  }

  it.each(CASES)('matches the composed reference and its gradients: $name', (c) => {
    const run = (backend: string, attend: typeof scaledDotProductAttention) => {
      const { q, k, v, keyMask } = inputs(c, backend);
      const out = attend(q.view, k.view, v.view, {
        scale: 0.41,
        causal: c.causal ?? false,
        window: c.window ?? null,
        keyMask,
      });
      const g = randn(out.shape, { backend, generator: new Generator(5) });
      out.mul(g).sum().backward();
      return { out, grads: [q.leaf.grad!, k.leaf.grad!, v.leaf.grad!] };
    };
    calls.length = 0;
    const flash = run(NAME, scaledDotProductAttention);
    expect(calls.map((x) => x.op)).toEqual(['forward', 'backward']);
    const reference = run('js', scaledDotProductAttentionComposed);
    expect(flash.out.shape).toEqual(c.q);
    expect(maxError(flash.out, reference.out)).toBeLessThan(1e-5);
    for (const [i, g] of flash.grads.entries()) {
      expect(g.shape).toEqual(reference.grads[i]!.shape);
      expect(maxError(g, reference.grads[i]!)).toBeLessThan(1e-5);
    }
  });

  it('gives a row that sees no key output 0 and zero gradients', () => {
    const c = CASES[4]!;
    const { q, k, v, keyMask } = inputs(c, NAME);
    const out = scaledDotProductAttention(q.view, k.view, v.view, { scale: 1, causal: true, keyMask });
    const rows = out.toList() as number[][][][];
    // Batch 1 pads keys 0 and 1: queries 0 and 1 (at positions 0 and 1) see nothing.
    expect(rows[1]![0]![0]).toEqual([0, 0, 0, 0]);
    expect(rows[1]![1]![1]).toEqual([0, 0, 0, 0]);
    out.sum().backward();
    const dq = q.leaf.grad!.toList() as number[][][][];
    expect(dq[1]![1]![0]).toEqual([0, 0, 0, 0]);
  });

  it('hands bfloat16 inputs to the kernel as bfloat16 and returns bfloat16 gradients', () => {
    calls.length = 0;
    const { q, k, v } = inputs(CASES[2]!, NAME, 'bfloat16');
    const out = scaledDotProductAttention(q.view, k.view, v.view, { scale: 0.5, causal: true });
    expect(out.dtype).toBe('bfloat16');
    out.float().sum().backward();
    expect(calls).toEqual([
      { op: 'forward', dtype: 'bfloat16' },
      { op: 'backward', dtype: 'bfloat16' },
    ]);
    expect(q.leaf.grad!.dtype).toBe('bfloat16');
    expect(k.leaf.grad!.shape).toEqual([2, 1, 5, 3]);
  });

  it('keeps the composed path when a bias is given', () => {
    calls.length = 0;
    const { q, k, v } = inputs(CASES[0]!, NAME);
    const bias = randn([2, 1, 5, 5], { backend: NAME, generator: new Generator(2) });
    scaledDotProductAttention(q.view, k.view, v.view, { scale: 0.5, bias });
    expect(calls).toEqual([]);
  });
});
