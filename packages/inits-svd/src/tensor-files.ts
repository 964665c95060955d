import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type Dtype as FileDtype,
  LorakitError,
  SafetensorsFile,
  type TensorEntry,
  writeSafetensors,
} from '@lorakit/safetensors';
import { type Dtype, type Tensor, tensor } from '@lorakit/tensor';

const FILE_DTYPES: Partial<Record<Dtype, FileDtype>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
};

const TENSOR_DTYPES: Partial<Record<FileDtype, Dtype>> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
};

/** The safetensors entry of a float tensor, its values produced when the writer reaches it. */
export function floatEntry(name: string, value: Tensor): TensorEntry {
  const dtype = FILE_DTYPES[value.dtype];
  if (!dtype)
    throw new LorakitError(`[safetensors] tensor "${name}" has dtype ${value.dtype}; expected a float dtype`);
  return {
    name,
    dtype,
    shape: value.shape,
    // F16/BF16 values are exactly representable in float32; the writer rounds them back losslessly.
    data: () => (value.dtype === 'float64' ? value : value.float()).contiguous().toArray() as Float32Array,
  };
}

/** Writes float tensors to a safetensors file atomically (temporary file + rename), creating its folder. */
export async function writeFloatTensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  await writeSafetensors(
    path,
    [...tensors].map(([name, value]) => floatEntry(name, value)),
    metadata ? { metadata } : {},
  );
}

/** Every float tensor of a safetensors file, in its stored dtype (F16/BF16 decoded exactly). */
export function readFloatTensors(path: string): Map<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out = new Map<string, Tensor>();
    for (const name of file.names()) {
      const { data, dtype, shape } = file.readSync(name);
      const tensorDtype = TENSOR_DTYPES[dtype];
      if (!tensorDtype) {
        throw new LorakitError(
          `[safetensors] ${path}: tensor "${name}" has dtype ${dtype}; expected F32, F64, F16 or BF16`,
        );
      }
      const values = tensor(data as Float32Array, { shape });
      out.set(name, tensorDtype === 'float32' ? values : values.cast(tensorDtype));
    }
    return out;
  } finally {
    file.close();
  }
}
