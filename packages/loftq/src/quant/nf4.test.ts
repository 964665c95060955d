import { join } from 'node:path';
import { readTensorFile, tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { values, vector } from '../../test/helpers.js';
import { NFQuantizer } from './nf-quantizer.js';
import { NF4_CODE, nf4Dequantize, nf4DequantizeValues, nf4Quantize, nf4QuantizeValues } from './nf4.js';

describe('NF4 (bitsandbytes)', () => {
  it('has the 16 code book values, ascending, with an exact zero and ±1, equal to PEFT’s NF4 normal map', () => {
    expect(NF4_CODE.length).toBe(16);
    expect([NF4_CODE[0], NF4_CODE[7], NF4_CODE[15]]).toEqual([-1, 0, 1]);
    for (let i = 1; i < 16; i++) expect(NF4_CODE[i]!).toBeGreaterThan(NF4_CODE[i - 1]!);
    expect(Array.from(NFQuantizer.normalMap(4))).toEqual(Array.from(NF4_CODE));
  });

  it('maps every code value (times absmax) to its own code, and each code dequantizes to code·absmax', () => {
    const absmax = 0.75;
    const x = Float32Array.from(NF4_CODE, (c) => Math.fround(c * absmax));
    const { packed, absmax: scales } = nf4QuantizeValues(x, 32);
    expect(scales[0]).toBe(absmax);
    expect(Array.from(packed)).toEqual([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
    expect(Array.from(nf4DequantizeValues({ packed, absmax: scales, blocksize: 32 }, 16))).toEqual(
      Array.from(x),
    );
  });

  for (const [label, input, blocksize] of [
    ['a 48×40 weight with an outlier and zero blocks', 'w', 64],
    ['the same weight with blocksize 32', 'w', 32],
    ['1001 values (odd count, partial last block)', 'odd', 64],
    ['values exactly on the decision boundaries (they take the lower code)', 'ties', 64],
  ] as const) {
    it(`is bit-exact with bitsandbytes on ${label}`, () => {
      const key = input === 'w' && blocksize === 32 ? 'w_b32' : input;
      const q = nf4Quantize(vector(input), { blocksize });
      expect(Array.from(q.packed)).toEqual(values(vector(`nf4.${key}.packed`)));
      expect(Array.from(q.absmax)).toEqual(values(vector(`nf4.${key}.absmax`)));
      expect(q.shape).toEqual(vector(input).shape);
      expect(values(nf4Dequantize(q))).toEqual(values(vector(`nf4.${key}.dequantized`)));
    });
  }

  it('reproduces the base_after of the golden LoftQ case (bitsandbytes NF4 on CUDA) exactly', () => {
    const dir = join(peftFixturesDir(), 'init_loftq_4bit_1iter');
    const base = readTensorFile(join(dir, 'base', 'model.safetensors'));
    const io = readTensorFile(join(dir, 'io.safetensors'));
    const modules = [...io.keys()].filter((k) => k.endsWith('.base_after'));
    expect(modules.length).toBe(4);
    for (const key of modules) {
      const weight = base.get(key.replace('.base_after', '.weight'))!;
      expect(values(nf4Dequantize(nf4Quantize(weight)))).toEqual(values(io.get(key)!));
    }
  });

  it('is idempotent: requantizing a dequantized weight gives the same codes and scales', () => {
    const q = nf4Quantize(vector('w'));
    const again = nf4Quantize(nf4Dequantize(q));
    expect(Array.from(again.packed)).toEqual(Array.from(q.packed));
    expect(Array.from(again.absmax)).toEqual(Array.from(q.absmax));
  });

  it('rejects block sizes bitsandbytes does not support and mismatched packed data', () => {
    expect(() => nf4Quantize(tensor([1, 2, 3, 4]), { blocksize: 48 })).toThrow(
      '[nf4Quantize] blocksize must be one of 32, 64, 128, 256, 512, 1024, 2048, 4096, received 48',
    );
    expect(() =>
      nf4DequantizeValues({ packed: new Uint8Array(3), absmax: new Float32Array(1), blocksize: 64 }, 8),
    ).toThrow('[nf4Dequantize] 8 values need 4 packed bytes and 1 absmax values, received 3 and 1');
  });
});
