import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';

export const testDataDir = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'test-data');

/** Every tensor of a safetensors file (int64 stays int64, floats become float32). */
export function readTensors(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out = new Map<string, Tensor>();
    for (const info of file.tensors) {
      const { data, shape } = file.readSync(info.name);
      const dtype = info.dtype === 'I64' ? 'int64' : info.dtype === 'I32' ? 'int32' : 'float32';
      out.set(info.name, tensor(data as Float32Array, { shape, dtype }));
    }
    return out;
  } finally {
    file.close();
  }
}

/** Largest |a − b| and whether every element satisfies |a − b| ≤ atol + rtol·|b| (numpy's allclose). */
export function compare(
  actual: Tensor,
  expected: Tensor,
  atol: number,
  rtol: number,
): { maxAbs: number; ok: boolean } {
  if (actual.shape.join() !== expected.shape.join()) {
    throw new Error(
      `shape [${actual.shape.join(', ')}] differs from expected [${expected.shape.join(', ')}]`,
    );
  }
  const a = actual.toArray() as Float32Array;
  const b = expected.toArray() as Float32Array;
  let maxAbs = 0;
  let ok = true;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(a[i]! - b[i]!);
    if (!(diff <= atol + rtol * Math.abs(b[i]!))) ok = false;
    if (!(diff <= maxAbs)) maxAbs = Number.isNaN(diff) ? Number.NaN : Math.max(maxAbs, diff);
  }
  return { maxAbs, ok };
}

/** max |a − b| / max(max |b|, floor): the relative error of a whole tensor. */
export function relativeError(actual: Tensor, expected: Tensor, floor = 1e-30): number {
  const a = actual.toArray() as Float32Array;
  const b = expected.toArray() as Float32Array;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / Math.max(scale, floor);
}
