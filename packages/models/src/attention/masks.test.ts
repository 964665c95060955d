import { tensor, tidy } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { causalAttentionBias, MASKED } from './masks.js';

describe('causalAttentionBias', () => {
  it('builds the causal bias once per shape and keeps it alive across tidy scopes', () => {
    const options = { queryLength: 3, pastLength: 1, backend: 'js' };
    const first = tidy(() => causalAttentionBias(options).bias);
    expect(first!.disposed).toBe(false);
    expect(causalAttentionBias(options).bias).toBe(first);
    expect(first!.toList()).toEqual([
      [
        [
          [0, 0, MASKED, MASKED],
          [0, 0, 0, MASKED],
          [0, 0, 0, 0],
        ],
      ],
    ]);
    expect(causalAttentionBias({ ...options, pastLength: 0 }).bias).not.toBe(first);
  });

  it('builds padding masks afresh', () => {
    const attentionMask = tensor([[0, 1, 1]], { dtype: 'int64' });
    const options = { queryLength: 3, pastLength: 0, attentionMask, backend: 'js' };
    const { bias, rowScale } = causalAttentionBias(options);
    expect(causalAttentionBias(options).bias).not.toBe(bias);
    expect(rowScale!.toList()).toEqual([[[[0], [1], [1]]]]);
  });
});
