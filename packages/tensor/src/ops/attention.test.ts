import { expect, it } from 'vitest';
import {
  DtypeError,
  Generator,
  randn,
  ShapeError,
  scaledDotProductAttention,
  scaledDotProductAttentionComposed,
  type Tensor,
  tensor,
} from '../index.js';
import { describeEachBackend } from '../testing/backends.js';

/** Max |a − b| over all elements. */
function maxError(a: Tensor, b: Tensor): number {
  const x = a.toArray() as Float32Array;
  const y = b.toArray() as Float32Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

interface Case {
  readonly name: string;
  readonly q: number[];
  readonly kv: number[];
  readonly causal?: boolean;
  readonly bias?: number[];
  readonly transposedQ?: boolean;
}

const CASES: Case[] = [
  { name: 'causal, no bias', q: [2, 3, 5, 4], kv: [2, 3, 5, 4], causal: true },
  { name: 'a [B, 1, T, S] bias, not causal', q: [2, 2, 4, 8], kv: [2, 2, 6, 8], bias: [2, 1, 4, 6] },
  {
    name: 'causal with cached keys (S > T) and a bias',
    q: [1, 2, 3, 4],
    kv: [1, 2, 7, 4],
    causal: true,
    bias: [1, 1, 3, 7],
  },
  { name: 'grouped-query (4 heads over 2)', q: [2, 4, 5, 6], kv: [2, 2, 5, 6], causal: true },
  { name: 'q a transposed view', q: [2, 3, 5, 4], kv: [2, 3, 5, 4], causal: true, transposedQ: true },
];

describeEachBackend('scaledDotProductAttention', (backend) => {
  const on = { backend, requiresGrad: true } as const;

  function inputs(c: Case, seed: number) {
    const generator = new Generator(seed);
    const qLeaf = c.transposedQ
      ? randn([c.q[0]!, c.q[2]!, c.q[1]!, c.q[3]!], { ...on, generator })
      : randn(c.q, { ...on, generator });
    const q = c.transposedQ ? qLeaf.transpose(1, 2) : qLeaf;
    const k = randn(c.kv, { ...on, generator });
    const v = randn(c.kv, { ...on, generator });
    const bias = c.bias ? randn(c.bias, { ...on, generator }) : null;
    return { q, k, v, bias, leaves: [qLeaf, k, v, ...(bias ? [bias] : [])] };
  }

  it.each(CASES)('matches the composed reference and its gradients: $name', (c) => {
    const seed = 3;
    const run = (fn: typeof scaledDotProductAttention) => {
      const { q, k, v, bias, leaves } = inputs(c, seed);
      const out = fn(q, k, v, { scale: 0.37, bias, causal: c.causal ?? false });
      const g = randn(out.shape, { backend, generator: new Generator(9) });
      out.mul(g).sum().backward();
      return { out, grads: leaves.map((t) => t.grad!) };
    };
    const fused = run(scaledDotProductAttention);
    const reference = run(scaledDotProductAttentionComposed);
    expect(fused.out.shape).toEqual(c.q);
    expect(maxError(fused.out, reference.out)).toBeLessThan(2e-6);
    for (const [i, g] of fused.grads.entries()) {
      expect(g.shape).toEqual(reference.grads[i]!.shape);
      expect(maxError(g, reference.grads[i]!)).toBeLessThan(1e-5);
    }
  });

  it('gives a query the keys up to its own position only', () => {
    // One head, v = identity: the output rows are the attention probabilities themselves.
    const q = tensor([[[[1], [2], [3]]]], { backend });
    const k = tensor([[[[0.5], [-1], [2]]]], { backend });
    const v = tensor(
      [
        [
          [
            [1, 0, 0],
            [0, 1, 0],
            [0, 0, 1],
          ],
        ],
      ],
      { backend },
    );
    const probs = scaledDotProductAttention(q, k, v, { scale: 1, causal: true }).toList() as number[][][][];
    const rows = probs[0]![0]!;
    expect(rows[0]).toEqual([1, 0, 0]);
    expect(rows[1]![2]).toBe(0);
    const e = [Math.exp(2 * 0.5), Math.exp(2 * -1)];
    expect(rows[1]![0]).toBeCloseTo(e[0]! / (e[0]! + e[1]!), 6);
    expect(rows[2]!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('rejects bad inputs, naming what it expected', () => {
    const t = (shape: number[]) => randn(shape, { backend });
    const q = t([1, 4, 3, 2]);
    const kv = t([1, 2, 3, 2]);
    expect(() => scaledDotProductAttention(t([4, 3, 2]), kv, kv, { scale: 1 })).toThrow(
      '[scaledDotProductAttention] q must be [batch, heads, length, headDim], received [4, 3, 2]',
    );
    expect(() => scaledDotProductAttention(q, t([1, 2, 3, 5]), t([1, 2, 3, 5]), { scale: 1 })).toThrow(
      '[scaledDotProductAttention] k must be [1, kvHeads, keys, 2] like q [1, 4, 3, 2] and v [1, kvHeads, keys, valueDim] like k, received k [1, 2, 3, 5] and v [1, 2, 3, 5]',
    );
    expect(() => scaledDotProductAttention(q, t([1, 3, 3, 2]), t([1, 3, 3, 2]), { scale: 1 })).toThrow(
      '[scaledDotProductAttention] 4 query heads cannot share 3 key/value heads',
    );
    expect(() =>
      scaledDotProductAttention(q, t([1, 2, 2, 2]), t([1, 2, 2, 2]), { scale: 1, causal: true }),
    ).toThrow(
      '[scaledDotProductAttention] causal attention needs at least as many keys as queries, received 2 keys for 3 queries',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, bias: t([2, 1, 3, 3]) })).toThrow(
      '[scaledDotProductAttention] bias [2, 1, 3, 3] must broadcast to the scores [1, 4, 3, 3]',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: Number.NaN })).toThrow(
      '[scaledDotProductAttention] scale must be a finite number, received NaN',
    );
    expect(() => scaledDotProductAttention(q, kv.cast('int32'), kv, { scale: 1 })).toThrow(
      '[scaledDotProductAttention] q, k and v must be floating point (float32, float64, float16 or bfloat16), received float32, int32 and float32',
    );
    expect(() => scaledDotProductAttention(q, kv.cast('int32'), kv, { scale: 1 })).toThrow(DtypeError);
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, bias: t([3, 3]).cast('float64') })).toThrow(
      "[scaledDotProductAttention] bias must have q's dtype float32, received float64",
    );
    expect(() => scaledDotProductAttention(t([1, 4, 3]), kv, kv, { scale: 1 })).toThrow(ShapeError);
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, causal: true, window: 0 })).toThrow(
      '[scaledDotProductAttention] window must be a positive integer or null, received 0',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, causal: true, window: 1.5 })).toThrow(
      '[scaledDotProductAttention] window must be a positive integer or null, received 1.5',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, window: 2 })).toThrow(
      '[scaledDotProductAttention] window 2 needs causal attention (a sliding window limits how far back a query sees)',
    );
    const mask = (shape: number[]) => randn(shape, { backend }).gt(0);
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, keyMask: mask([1, 4]) })).toThrow(
      '[scaledDotProductAttention] keyMask must be [batch, keys] = [1, 3], received [1, 4]',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, keyMask: mask([1, 1, 3]) })).toThrow(
      '[scaledDotProductAttention] keyMask must be [batch, keys] = [1, 3], received [1, 1, 3]',
    );
    expect(() => scaledDotProductAttention(q, kv, kv, { scale: 1, keyMask: t([1, 3]) })).toThrow(
      '[scaledDotProductAttention] keyMask must be a bool tensor, received float32',
    );
  });

  it('applies a key mask and a sliding window as the equivalent bias, zeroing rows with no key', () => {
    const generator = new Generator(4);
    const q = randn([2, 2, 4, 3], { ...on, generator });
    const k = randn([2, 1, 6, 3], { ...on, generator });
    const v = randn([2, 1, 6, 3], { ...on, generator });
    // Batch 1 pads its first 4 keys: its query 0 (position 2) sees none.
    const keep = [
      [true, true, true, true, true, true],
      [false, false, false, false, true, true],
    ];
    const keyMask = tensor(keep, { backend, dtype: 'bool' });
    const window = 3;
    const out = scaledDotProductAttention(q, k, v, { scale: 0.7, causal: true, window, keyMask });
    const bias: number[][][][] = keep.map((row) => [
      [0, 1, 2, 3].map((i) =>
        row.map((kept, j) => (kept && j <= i + 2 && j > i + 2 - window ? 0 : Number.NEGATIVE_INFINITY)),
      ),
    ]);
    const reference = scaledDotProductAttentionComposed(q, k, v, {
      scale: 0.7,
      bias: tensor(bias, { backend }),
    });
    const got = out.toList() as number[][][][];
    const expected = reference.toList() as number[][][][];
    for (let b = 0; b < 2; b++)
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < 4; i++) {
          const row = expected[b]![h]![i]!.map((x) => (Number.isNaN(x) ? 0 : x));
          for (let d = 0; d < 3; d++) expect(got[b]![h]![i]![d]).toBeCloseTo(row[d]!, 6);
        }
    expect(got[1]![0]![0]!.map(Math.abs)).toEqual([0, 0, 0]);
    out.sum().backward();
    expect((q.grad!.toList() as number[][][][])[1]![1]![0]!.map(Math.abs)).toEqual([0, 0, 0]);
  });

  it('16-bit and mixed float inputs compute in float32 (float64 if any is) and return the promoted dtype', () => {
    const generator = new Generator(3);
    const q = randn([1, 2, 3, 4], { generator });
    const k = randn([1, 2, 5, 4], { generator });
    const v = randn([1, 2, 5, 4], { generator });
    const options = { scale: 0.5, causal: true };
    const exact = scaledDotProductAttention(q, k, v, options);
    const half = scaledDotProductAttention(
      q.cast('bfloat16'),
      k.cast('bfloat16'),
      v.cast('bfloat16'),
      options,
    );
    expect(half.dtype).toBe('bfloat16');
    const reference = scaledDotProductAttention(
      q.cast('bfloat16').cast('float32'),
      k.cast('bfloat16').cast('float32'),
      v.cast('bfloat16').cast('float32'),
      options,
    ).cast('bfloat16');
    expect(maxError(half, reference)).toBe(0);
    expect(maxError(half.cast('float32'), exact)).toBeLessThan(0.05);
    const mixed = scaledDotProductAttention(q, k, v.cast('bfloat16'), options);
    expect(mixed.dtype).toBe('float32');
    expect(scaledDotProductAttention(q, k.cast('float64'), v, options).dtype).toBe('float64');
    const leaf = q.cast('bfloat16').detach().setRequiresGrad();
    scaledDotProductAttention(leaf, k.cast('bfloat16'), v.cast('bfloat16'), options)
      .cast('float32')
      .sum()
      .backward();
    expect(leaf.grad?.dtype).toBe('bfloat16');
  });
});
