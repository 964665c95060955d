import { getPeftModel, LoraConfig, type LoraLayer } from '@lorakit/lora';
import { Module } from '@lorakit/nn';
import { manualSeed, randn, type Tensor } from '@lorakit/tensor';
import { describe, expect, it } from 'vitest';
import { maxError, values } from '../../test/helpers.js';
import '../index.js';
import { Linear4bit } from '../layers/linear-4bit.js';
import { Linear8bitLt } from '../layers/linear-8bit.js';
import type { QuantizedLinear } from '../layers/quantized-linear.js';
import { nf4Dequantize, nf4Quantize } from '../quant/nf4.js';
import { LoraQuantizedLinear } from './lora-quantized-linear.js';

/** A model with one quantized projection. */
class Tiny extends Module {
  constructor(proj: QuantizedLinear) {
    super();
    this.registerModule('proj', proj);
  }
  forward(x: Tensor): Tensor {
    return this.child('proj').call(x);
  }
}

function quantized(bits: 4 | 8): Tiny {
  manualSeed(5);
  const layer = bits === 4 ? new Linear4bit(64, 32) : new Linear8bitLt(64, 32);
  layer.writeBaseWeight(randn([32, 64], { std: 0.1 }));
  return new Tiny(layer);
}

/** A peft model whose adapter has a non-zero B, so merging changes the weight. */
function withAdapter(bits: 4 | 8) {
  const peft = getPeftModel(quantized(bits), new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ['proj'] }));
  const layer = peft.loraLayers()[0]![1] as LoraLayer;
  layer.factorParameters('default').b.assign(randn([32, 4], { std: 0.05 }));
  return { peft, layer };
}

describe('LoRA on quantized linears', () => {
  it('getPeftModel wraps Linear4bit and Linear8bitLt in a LoRA layer that dequantizes on the fly', () => {
    for (const bits of [4, 8] as const) {
      const { peft, layer } = withAdapter(bits);
      expect(layer).toBeInstanceOf(LoraQuantizedLinear);
      expect(peft.targetedModuleNames).toEqual(['proj']);
      const x = randn([2, 64]);
      const base = layer.baseLayer as QuantizedLinear;
      const expected = base.call(x).add(layer.loraTerm('default', x));
      expect(maxError(peft.call(x) as Tensor, expected)).toBe(0);
      // Only the adapter trains: the quantized base has buffers, and its bias is frozen.
      expect(peft.trainableParameterCounts()).toEqual({
        trainable: 4 * 64 + 32 * 4,
        total: 4 * 64 + 32 * 4 + 32,
      });
    }
  });

  it('merging dequantizes, adds the delta and requantizes, with PEFT’s rounding warning', () => {
    const { peft, layer } = withAdapter(4);
    const base = layer.baseLayer as Linear4bit;
    const before = base.readBaseWeight();
    const delta = layer.deltaWeight('default');
    peft.merge();
    expect(values(base.readBaseWeight())).toEqual(values(nf4Dequantize(nf4Quantize(before.add(delta)))));
    expect(peft.warnings).toContain(
      'Merge lora module to 4-bit linear may get different generations due to rounding errors.',
    );
    peft.unmerge();
    expect(peft.warnings).toContain(
      'Unmerge lora module to 4-bit linear may get different generations due to rounding errors.',
    );
    // Rounding twice: close to, not equal to, the weight before the merge.
    expect(maxError(base.readBaseWeight(), before)).toBeLessThan(0.05);
  });

  it('mergeAndUnload returns the model with a quantized merged layer (8-bit)', () => {
    const { peft, layer } = withAdapter(8);
    const x = randn([3, 64]);
    const adapted = peft.call(x) as Tensor;
    const merged = peft.mergeAndUnload();
    expect(merged.child('proj')).toBeInstanceOf(Linear8bitLt);
    expect(peft.warnings).toEqual([
      'Merge lora module to 8-bit linear may get different generations due to rounding errors.',
    ]);
    expect(maxError(merged.call(x) as Tensor, adapted)).toBeLessThan(0.05);
    expect(layer.mergedAdapters).toEqual(['default']);
  });

  it('a safe merge that would produce NaN leaves the quantized weight untouched', () => {
    const { peft, layer } = withAdapter(4);
    const codes = Array.from((layer.baseLayer as Linear4bit).packedCodes());
    layer.factorParameters('default').b.assign(Number.NaN);
    expect(() => peft.merge({ safeMerge: true })).toThrow(
      '[lora] NaNs detected in the merged weights of proj. The adapter default seems to be broken; nothing was merged',
    );
    expect(Array.from((layer.baseLayer as Linear4bit).packedCodes())).toEqual(codes);
  });
});
