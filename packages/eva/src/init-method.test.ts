import { getInitMethod, getPeftModel, LoraConfig } from '@lorakit/lora';
import { Linear, Module } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { evaConfig } from './index.js';

class One extends Module {
  constructor() {
    super();
    this.registerModule('q_proj', new Linear(4, 4));
  }
  forward(x: Tensor): Tensor {
    return this.child('q_proj').call(x);
  }
}

describe('the eva init method', () => {
  it('sets init_lora_weights and a default eva_config, and asks for calibration data', () => {
    const method = getInitMethod('eva');
    expect(method.calibration).toBe(true);
    const config = new LoraConfig({ targetModules: ['q_proj'] });
    method.configure(config, {});
    expect(config.initLoraWeights).toBe('eva');
    expect(config.evaConfig).toEqual(evaConfig());
  });

  it('rejects a run without calibration batches', async () => {
    const config = new LoraConfig({ targetModules: ['q_proj'] });
    getInitMethod('eva').configure(config, {});
    const peft = getPeftModel(new One(), config);
    const run = { values: {}, log: () => {}, progress: () => ({ setTotal() {}, update() {}, finish() {} }) };
    await expect(getInitMethod('eva').afterInjection!(peft, run)).rejects.toThrow(
      '[eva] needs calibration data: at least one batch of tokenized examples, received none',
    );
  });
});
