import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Dtype, SafetensorsFile, writeSafetensors } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import { EvaError } from './errors.js';
import type { EvaStateDict } from './get-eva-state-dict.js';

const FILE_DTYPES: Partial<Record<string, Dtype>> = { float32: 'F32', float64: 'F64' };

/**
 * Saves an EVA state dict as safetensors with its keys unchanged (PEFT's names, e.g.
 * `base_model.model.model.layers.0.self_attn.q_proj`), so `safetensors.torch.load_file` gives PEFT's
 * dict back. The file is written to a temporary name and renamed; the folder is created.
 */
export async function saveEvaStateDict(stateDict: EvaStateDict, path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const entries = [...stateDict].map(([name, value]) => {
    const dtype = FILE_DTYPES[value.dtype];
    if (!dtype) {
      throw new EvaError(
        `[saveEvaStateDict] "${name}" has dtype ${value.dtype}; EVA components are float32 or float64`,
      );
    }
    return {
      name,
      dtype,
      shape: value.shape,
      data: () => value.contiguous().toArray() as Float32Array | Float64Array,
    };
  });
  await writeSafetensors(path, entries, { metadata: { format: 'pt' } });
}

/** Reads a state dict written by {@link saveEvaStateDict} or by `safetensors.torch.save_file` in Python. */
export function loadEvaStateDictFile(path: string): EvaStateDict {
  const file = SafetensorsFile.open(path);
  try {
    const out: EvaStateDict = new Map();
    for (const info of file.tensors) {
      if (info.dtype !== 'F32' && info.dtype !== 'F64') {
        throw new EvaError(
          `[loadEvaStateDictFile] ${path}: "${info.name}" has dtype ${info.dtype}; EVA components are F32 or F64`,
        );
      }
      const { data } = file.readSync(info.name);
      const values: Tensor = tensor(data as Float32Array | Float64Array, {
        shape: info.shape,
        dtype: info.dtype === 'F64' ? 'float64' : 'float32',
      });
      out.set(info.name, values);
    }
    return out;
  } finally {
    file.close();
  }
}
