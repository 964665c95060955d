import { findInitStrategy, getInitMethod, LoraConfig } from '@lorakit/lora';
import { Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import './index.js';

class One extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(4, 4));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x);
  }
}

const configured = (name: string, values: Record<string, number | string | undefined> = {}) => {
  const config = new LoraConfig({ targetModules: ['q_proj'] });
  getInitMethod(name).configure(config, values);
  return config;
};

describe('init methods', () => {
  it('set init_lora_weights (and CorDA’s sub-config) from their inputs', () => {
    expect(configured('pissa').initLoraWeights).toBe('pissa');
    expect(configured('pissa', { niter: 4 }).initLoraWeights).toBe('pissa_niter_4');
    expect(configured('olora').initLoraWeights).toBe('olora');
    expect(configured('orthogonal').initLoraWeights).toBe('orthogonal');
    const corda = configured('corda', { 'corda-method': 'kpm' });
    expect(corda.initLoraWeights).toBe('corda');
    expect(corda.cordaConfig).toMatchObject({ corda_method: 'kpm' });
  });

  it('rewrite the base weight exactly where their registered strategy says so', () => {
    const rewrites = (name: string) =>
      findInitStrategy(configured(name).initLoraWeights)?.modifiesBaseWeight ?? false;
    expect(['pissa', 'olora', 'corda', 'orthogonal'].map(rewrites)).toEqual([true, true, true, false]);
  });

  it('CorDA needs calibration data', async () => {
    const config = configured('corda');
    const run = { values: {}, log: () => {}, progress: () => ({ setTotal() {}, update() {}, finish() {} }) };
    await expect(getInitMethod('corda').beforeInjection!(new One(), config, run)).rejects.toThrow(
      '[corda] needs calibration data: at least one tokenized example, received none',
    );
  });
});
