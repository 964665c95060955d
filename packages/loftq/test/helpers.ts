import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTensorFile, type Tensor } from '@lorakit/tensor';

/** packages/loftq/test-data (made by fixtures/peft-extra/generate_loftq.py). */
export const testData = join(dirname(fileURLToPath(import.meta.url)), '..', 'test-data');

let vectors: Map<string, Tensor> | undefined;

/** The quantizer reference vectors (bitsandbytes stand-in and PEFT ≤ 0.18's NFQuantizer). */
export function quantizerVectors(): Map<string, Tensor> {
  vectors ??= readTensorFile(join(testData, 'quantizers.safetensors'));
  return vectors;
}

export function vector(name: string): Tensor {
  const t = quantizerVectors().get(name);
  if (!t) throw new Error(`no reference vector ${name}`);
  return t;
}

/** Host values as plain numbers (int tensors included). */
export function values(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number | bigint>, Number);
}

export function maxError(actual: Tensor, expected: Tensor): number {
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(`shapes differ: [${actual.shape}] vs [${expected.shape}]`);
  }
  return actual.double().sub(expected.double()).abs().max().item();
}

/** Max error after flipping each rank component (row of A when axis = 0, column of B when axis = 1) to match. */
export function maxErrorUpToSign(actual: Tensor, expected: Tensor, axis: 0 | 1): number {
  const dot = actual
    .double()
    .mul(expected.double())
    .sum(axis === 0 ? 1 : 0, true);
  const signs = dot.ge(0).double().mul(2).sub(1);
  return maxError(actual.double().mul(signs), expected);
}
