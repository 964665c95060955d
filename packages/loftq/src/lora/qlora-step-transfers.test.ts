import { join } from 'node:path';
import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { AdamW, train } from '@lorakit/nn';
import {
  manualSeed,
  randint,
  registerBackend,
  setDefaultBackend,
  type Tensor,
  unregisterBackend,
} from '@lorakit/tensor';
import { createOpaqueBackend, type TransferCounts } from '@lorakit/tensor/testing';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../index.js';
import { prepareModelForKbitTraining } from '../model/prepare.js';
import { loadQuantizedModel } from '../model/quantize-model.js';

const base = join(peftFixturesDir(), 'init_loftq_4bit_1iter', 'base');
const TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];

describe('QLoRA training steps on a device-like backend', () => {
  const name = 'opaque-qlora';
  const device = createOpaqueBackend(name);
  beforeAll(() => registerBackend(device, -2));
  afterAll(() => unregisterBackend(name));

  for (const bits of ['4bit', '8bit'] as const) {
    it(`${bits} tiny Llama: forward, loss, backward and AdamW make no host transfer`, async () => {
      setDefaultBackend(name);
      try {
        const model = await loadQuantizedModel(base, { quantize: bits, load: loadModel });
        prepareModelForKbitTraining(model);
        const peft = getPeftModel(model, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: TARGETS }));
        manualSeed(17);
        const inputIds = randint(0, 96, [2, 16], { dtype: 'int64' });
        const perStep: TransferCounts[] = [];
        let mark = { ...device.transfers };
        const result = await train({
          model: peft,
          data: [inputIds, inputIds, inputIds],
          optimizer: new AdamW(
            peft.parameters().filter((p) => p.requiresGrad),
            { lr: 1e-2 },
          ),
          maxGradNorm: 1,
          computeLoss: (ids) => (peft.call({ inputIds: ids, labels: ids }) as { loss: Tensor }).loss,
          callbacks: {
            onStep: () => {
              perStep.push({
                toHost: device.transfers.toHost - mark.toHost,
                fromHost: device.transfers.fromHost - mark.fromHost,
              });
              mark = { ...device.transfers };
            },
          },
        });
        expect(perStep).toEqual([0, 1, 2].map(() => ({ toHost: 0, fromHost: 0 })));
        expect(result.loss).toBeGreaterThan(0);
      } finally {
        setDefaultBackend(undefined);
      }
    });
  }
});
