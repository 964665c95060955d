import { Linear } from '@lorakit/nn';
import { linear, manualSeed, randn, tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { maxError, values } from '../../test/helpers.js';
import { int8Dequantize, int8Quantize } from '../quant/int8.js';
import { nf4Dequantize, nf4Quantize } from '../quant/nf4.js';
import { Linear4bit } from './linear-4bit.js';
import { Linear8bitLt } from './linear-8bit.js';

function floatLinear(inFeatures: number, outFeatures: number): Linear {
  manualSeed(3);
  return new Linear(inFeatures, outFeatures);
}

describe('Linear4bit', () => {
  it('stores bitsandbytes NF4 codes and absmax in buffers, no weight parameter', () => {
    const float = floatLinear(40, 24);
    const layer = Linear4bit.fromLinear(float);
    const reference = nf4Quantize(float.weight);
    expect(Array.from(layer.packedCodes())).toEqual(Array.from(reference.packed));
    expect(Array.from(layer.absmax())).toEqual(Array.from(reference.absmax));
    expect(layer.ownParameters().map(([n]) => n)).toEqual(['bias']);
    expect([...layer.stateDict().entries()].map(([k, t]) => [k, t.dtype, t.shape])).toEqual([
      ['bias', 'float32', [24]],
      ['packed_weight', 'int32', [120]],
      ['absmax', 'float32', [15]],
    ]);
    expect(() => layer.param('weight')).toThrow('[Linear4bit] has no parameter "weight"; parameters: bias');
    expect([layer.inFeatures, layer.outFeatures, layer.bits]).toEqual([40, 24, 4]);
    expect(values(layer.readBaseWeight())).toEqual(values(nf4Dequantize(reference)));
  });

  it('forward is x·deq(W)ᵀ + b, differentiable with respect to the input only', () => {
    const float = floatLinear(64, 16);
    const layer = Linear4bit.fromLinear(float);
    const x = randn([3, 5, 64]).setRequiresGrad();
    const y = layer.call(x);
    expect(maxError(y, linear(x, layer.dequantize(), float.bias))).toBe(0);
    y.sum().backward();
    expect(x.grad?.shape).toEqual([3, 5, 64]);
    expect(layer.bias!.grad?.shape).toEqual([16]); // biases are plain parameters
    expect(layer.namedBuffers().every(([, t]) => t.grad === null)).toBe(true);
  });

  it('writeBaseWeight requantizes; a zero-initialized layer dequantizes to zeros', () => {
    const layer = new Linear4bit(8, 8, { bias: false });
    expect(values(layer.dequantize()).every((v) => v === 0)).toBe(true);
    const weight = randn([8, 8]);
    layer.writeBaseWeight(weight);
    expect(values(layer.readBaseWeight())).toEqual(values(nf4Dequantize(nf4Quantize(weight))));
    expect(() => layer.writeBaseWeight(randn([8, 4]))).toThrow(
      '[Linear4bit] weight must have shape [8, 8], received [8, 4]',
    );
  });

  it('holds 0.5 byte per weight plus a float32 absmax per 64 (0.5625 bytes per weight)', () => {
    const layer = new Linear4bit(4096, 512);
    expect(layer.storage()).toEqual({ codeBytes: 1048576, scaleBytes: 131072, bytesPerWeight: 0.5625 });
    const bytes = layer.namedBuffers().reduce((n, [, t]) => n + (t.toArray() as Int32Array).byteLength, 0);
    expect(bytes / layer.weightCount).toBe(0.5625);
  });

  it('checks its arguments', () => {
    expect(() => new Linear4bit(0, 3)).toThrow(
      '[Linear4bit] inFeatures must be a positive integer, received 0',
    );
    expect(() => new Linear4bit(4, 4, { blocksize: 48 })).not.toThrow(); // empty layers are not quantized yet
    expect(() => new Linear4bit(4, 4, { blocksize: 48 }).writeBaseWeight(randn([4, 4]))).toThrow(
      '[nf4Quantize] blocksize must be one of 32, 64, 128, 256, 512, 1024, 2048, 4096, received 48',
    );
  });
});

describe('Linear8bitLt', () => {
  it('stores bitsandbytes int8 codes (CB) and row absmax (SCB), 1 + 4/in bytes per weight', () => {
    const float = floatLinear(32, 12);
    const layer = Linear8bitLt.fromLinear(float);
    const reference = int8Quantize(float.weight);
    expect(Array.from(layer.codes())).toEqual(Array.from(reference.codes));
    expect(Array.from(layer.absmax())).toEqual(Array.from(reference.absmax));
    expect(values(layer.readBaseWeight())).toEqual(values(int8Dequantize(reference)));
    expect(layer.storage().bytesPerWeight).toBe(1 + 4 / 32);
    const x = randn([2, 32]);
    expect(maxError(layer.call(x), linear(x, int8Dequantize(reference), float.bias))).toBe(0);
  });

  it('round-trips a dequantized weight exactly', () => {
    const layer = Linear8bitLt.fromLinear(floatLinear(16, 16));
    const codes = Array.from(layer.codes());
    layer.writeBaseWeight(layer.readBaseWeight());
    expect(Array.from(layer.codes())).toEqual(codes);
    expect(tensor(layer.absmax()).shape).toEqual([16]);
  });
});
