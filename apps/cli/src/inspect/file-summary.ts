import { SafetensorsFile, shapeSize } from '@lorakit/safetensors';
import { sizeOnDisk } from '../paths.js';
import { adapterKeyRole } from './adapter-keys.js';

export interface FileSummary {
  readonly kind: 'safetensors';
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly tensors: { name: string; dtype: string; shape: number[] }[];
  readonly parameters: number;
  readonly dtypes: Record<string, number>;
  readonly bytesOnDisk: number;
  /** True when the keys are PEFT adapter keys (lora_A / lora_B …). */
  readonly looksLikeAdapter: boolean;
  /** For adapter weights: module → rank. */
  readonly ranks: Record<string, number>;
  readonly warnings: string[];
}

/** Summarizes one safetensors file from its header. */
export function summarizeFile(path: string): FileSummary {
  const file = SafetensorsFile.open(path);
  try {
    const dtypes: Record<string, number> = {};
    let parameters = 0;
    const ranks: Record<string, number> = {};
    for (const info of file.tensors) {
      dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
      parameters += shapeSize(info.shape);
      const role = adapterKeyRole(info.name);
      if (role.kind === 'lora_A' || role.kind === 'embedding_A') ranks[role.module] = info.shape[0]!;
    }
    const looksLikeAdapter = Object.keys(ranks).length > 0;
    return {
      kind: 'safetensors',
      path,
      metadata: { ...file.metadata },
      tensors: file.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: [...t.shape] })),
      parameters,
      dtypes,
      bytesOnDisk: sizeOnDisk(path),
      looksLikeAdapter,
      ranks,
      warnings: looksLikeAdapter
        ? [
            'these are adapter weights; inspect the folder with adapter_config.json for the config, scaling and compatibility checks',
          ]
        : [],
    };
  } finally {
    file.close();
  }
}
