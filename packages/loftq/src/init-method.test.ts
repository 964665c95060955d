import { findInitStrategy, getInitMethod, LoraConfig } from '@lorakit/lora';
import { describe, expect, it } from 'vitest';
import './index.js';

describe('the loftq init method', () => {
  it('sets init_lora_weights and loftq_config from its inputs (defaults 4 bits, 1 iteration)', () => {
    const method = getInitMethod('loftq');
    expect(method.inputs?.map((i) => [i.name, i.default])).toEqual([
      ['loftq-bits', 4],
      ['loftq-iter', 1],
    ]);
    const config = new LoraConfig({ targetModules: ['q_proj'] });
    method.configure(config, { 'loftq-bits': 8, 'loftq-iter': 3 });
    expect(config.initLoraWeights).toBe('loftq');
    expect(config.loftqConfig).toEqual({ loftq_bits: 8, loftq_iter: 3 });
    expect(findInitStrategy('loftq')?.modifiesBaseWeight).toBe(true);
  });
});
