import {
  type Dtype as FileDtype,
  SafetensorsFile,
  type TensorEntry,
  writeSafetensors,
} from '@lorakit/safetensors';
import { getBackend } from './backend/registry.js';
import type { Dtype } from './dtype.js';
import { tensor } from './ops/creation.js';
import type { Tensor } from './tensor.js';

const TO_FILE: Readonly<Record<Dtype, FileDtype>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int32: 'I32',
  int64: 'I64',
  bool: 'BOOL',
};

/** The tensor dtype a file dtype loads as (narrow floats and unsigned ints widen). */
function fromFile(dtype: FileDtype): Dtype {
  switch (dtype) {
    case 'F64':
      return 'float64';
    case 'F16':
      return 'float16';
    case 'BF16':
      return 'bfloat16';
    case 'I64':
    case 'U64':
    case 'U32':
      return 'int64';
    case 'I32':
    case 'I16':
    case 'I8':
    case 'U16':
    case 'U8':
      return 'int32';
    case 'BOOL':
      return 'bool';
    default:
      return 'float32';
  }
}

/**
 * Reads every tensor of a safetensors file onto a backend (the default one unless named). F16/BF16
 * stay 16-bit; 8-bit floats decode to float32; small integer types widen to int32, 64-bit ones to int64.
 */
export function readTensorFile(path: string, options: { backend?: string } = {}): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out = new Map<string, Tensor>();
    for (const info of file.tensors) {
      const { data } = file.readSync(info.name);
      const dtype = fromFile(info.dtype);
      const values =
        data instanceof BigUint64Array ? BigInt64Array.from(data, (v) => BigInt.asIntN(64, v)) : data;
      out.set(
        info.name,
        tensor(values as Float32Array, {
          shape: info.shape,
          dtype,
          backend: options.backend ?? getBackend().name,
        }),
      );
    }
    return out;
  } finally {
    file.close();
  }
}

/** Writes named tensors to a safetensors file (atomically; one tensor read from the backend at a time). */
export async function writeTensorFile(
  path: string,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  options: { metadata?: Record<string, string> } = {},
): Promise<void> {
  const entries: TensorEntry[] = [...(tensors instanceof Map ? tensors : Object.entries(tensors))].map(
    ([name, t]: [string, Tensor]) => ({
      name,
      dtype: TO_FILE[t.dtype],
      shape: t.shape,
      data: () => {
        const host = t.toArray();
        return t.dtype === 'float16' || t.dtype === 'bfloat16' ? (host as Float32Array) : host;
      },
    }),
  );
  await writeSafetensors(path, entries, { metadata: options.metadata });
}
