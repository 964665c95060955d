import {
  Generator,
  getBackend,
  randn,
  registerBackend,
  type Tensor,
  tensor,
  unregisterBackend,
} from '@lorakit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causalAttentionBias, paddingAttentionBias } from './masks.js';
import { scaledDotProductAttention } from './sdpa.js';

const NAME = 'js-with-flash';
let flashCalls = 0;

/** Max |a − b| over all elements. */
function maxError(a: Tensor, b: Tensor): number {
  const x = a.toArray() as Float32Array;
  const y = b.toArray() as Float32Array;
  let max = 0;
  for (let i = 0; i < x.length; i++) max = Math.max(max, Math.abs(x[i]! - y[i]!));
  return max;
}

describe('scaledDotProductAttention (models) on a backend with flash attention', () => {
  // A backend whose flash kernel declines every input: the mask reaches the tensor op by rule (keyMask,
  // window), and the op's own fallback must give what the bias + rowScale composition gives.
  beforeAll(() =>
    registerBackend({
      ...getBackend('js'),
      name: NAME,
      flashAttention: () => {
        flashCalls++;
        return null;
      },
      flashAttentionBackward: () => {
        throw new Error('never called: the forward declined');
      },
    }),
  );
  afterAll(() => unregisterBackend(NAME));

  const CASES = [
    { name: 'left padding and a sliding window', window: 3, padded: [0, 3], causal: true },
    { name: 'left padding, no window', window: null, padded: [2, 0], causal: true },
    { name: 'a window, no padding', window: 2, padded: null, causal: true },
    { name: 'bidirectional padding (BERT)', window: null, padded: [1, 2], causal: false },
  ];

  it.each(CASES)('gives the composed result and gradients: $name', (c) => {
    const run = (backend: string) => {
      const generator = new Generator(7);
      const on = { backend, generator, requiresGrad: true } as const;
      const q = randn([2, 4, 5, 8], on);
      const k = randn([2, 2, 5, 8], on);
      const v = randn([2, 2, 5, 8], on);
      const attentionMask = c.padded
        ? tensor(
            c.padded.map((n) => Array.from({ length: 5 }, (_, j) => (j >= n ? 1 : 0))),
            { backend, dtype: 'int64' },
          )
        : undefined;
      const mask = c.causal
        ? causalAttentionBias({
            queryLength: 5,
            pastLength: 0,
            attentionMask,
            slidingWindow: c.window,
            backend,
          })
        : paddingAttentionBias(attentionMask, 5);
      expect(mask.flash).toEqual({
        causal: c.causal,
        window: c.window,
        keyMask: attentionMask ? expect.anything() : null,
      });
      const out = scaledDotProductAttention(q, k, v, { mask, scale: 0.35 });
      out
        .mul(randn(out.shape, { backend, generator: new Generator(1) }))
        .sum()
        .backward();
      return { out, grads: [q.grad!, k.grad!, v.grad!] };
    };
    flashCalls = 0;
    const routed = run(NAME);
    expect(flashCalls).toBe(1);
    const composed = run('js');
    expect(maxError(routed.out, composed.out)).toBeLessThan(1e-6);
    for (const [i, g] of routed.grads.entries()) expect(maxError(g, composed.grads[i]!)).toBeLessThan(1e-5);
  });
});
