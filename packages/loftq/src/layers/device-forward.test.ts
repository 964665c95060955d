import { getPeftModel, LoraConfig } from '@lorakit/lora';
import { AdamW, Linear, Module } from '@lorakit/nn';
import {
  getBackend,
  manualSeed,
  randn,
  registerBackend,
  type Tensor,
  unregisterBackend,
  withBackend,
} from '@lorakit/tensor';
import { createOpaqueBackend } from '@lorakit/tensor/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '../index.js';
import { Linear4bit } from './linear-4bit.js';
import { Linear8bitLt } from './linear-8bit.js';
import type { QuantizedLinear } from './quantized-linear.js';

function quantize(bits: 4 | 8, inFeatures: number, outFeatures: number): QuantizedLinear {
  manualSeed(7);
  const float = new Linear(inFeatures, outFeatures);
  return bits === 4 ? Linear4bit.fromLinear(float) : Linear8bitLt.fromLinear(float);
}

class Tiny extends Module {
  constructor(proj: QuantizedLinear) {
    super();
    this.registerModule('proj', proj);
  }
  forward(x: Tensor): Tensor {
    // The child, not a field: getPeftModel swaps in the LoRA layer.
    return this.child('proj').call(x) as Tensor;
  }
}

describe('quantized layers dequantize on the device', () => {
  it('to exactly the values of the host dequantization (partial blocks and odd sizes too)', () => {
    for (const bits of [4, 8] as const) {
      for (const [inFeatures, outFeatures] of [
        [40, 24],
        [7, 5],
        [130, 3],
      ] as const) {
        const layer = quantize(bits, inFeatures, outFeatures);
        const weight = layer.dequantize();
        expect([weight.shape, weight.dtype]).toEqual([[outFeatures, inFeatures], 'float32']);
        expect(Array.from(weight.toArray() as Float32Array)).toEqual(Array.from(layer.dequantizeValues()));
      }
    }
  });

  describe('on a device-like backend', () => {
    const name = 'opaque-loftq';
    const device = createOpaqueBackend(name);
    beforeAll(() => registerBackend(device, -2));
    afterAll(() => unregisterBackend(name));

    for (const bits of [4, 8] as const) {
      it(`${bits}-bit: a forward, and a QLoRA training step, make no host transfer after construction`, () => {
        const step = (backend: string) =>
          withBackend(backend, () => {
            const base = quantize(bits, 64, 32);
            const model = getPeftModel(
              new Tiny(base),
              new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['proj'], initLoraWeights: 'gaussian' }),
            );
            const optimizer = new AdamW(model.parameters(), { lr: 0.1 });
            const x = randn([3, 64]);
            const before = { ...device.transfers };
            const forward = base.call(x) as Tensor;
            const loss = (model.call(x) as Tensor).square().mean();
            loss.backward();
            optimizer.step();
            const after = model.call(x) as Tensor;
            const transfers = {
              toHost: device.transfers.toHost - before.toHost,
              fromHost: device.transfers.fromHost - before.fromHost,
            };
            expect(forward.backend).toBe(getBackend(backend));
            return {
              transfers,
              values: [forward, loss, after].map((t) => Array.from(t.toArray() as Float32Array)),
            };
          });
        const onDevice = step(name);
        expect(onDevice.transfers).toEqual({ toHost: 0, fromHost: 0 });
        expect(onDevice.values).toEqual(step('js').values);
      });
    }
  });
});
