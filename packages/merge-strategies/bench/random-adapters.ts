import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONFIG_NAME,
  dumpPythonJson,
  KEY_PREFIX,
  LoraConfig,
  WEIGHTS_NAME,
  writeTextAtomically,
} from '@lorakit/lora';
import { type TensorEntry, writeSafetensors } from '@lorakit/safetensors';
import { Generator, randn } from '@lorakit/tensor';

export interface RandomAdapterSpec {
  readonly layers: number;
  readonly dim: number;
  readonly r: number;
  readonly alpha: number;
  readonly seed: number;
}

export const BENCH_TARGETS = ['q_proj', 'v_proj'] as const;

/** Module paths of the benchmark model: `model.layers.{i}.self_attn.{q,v}_proj`, dim × dim each. */
export function benchModules(layers: number): string[] {
  return Array.from({ length: layers }, (_, i) =>
    BENCH_TARGETS.map((t) => `model.layers.${i}.self_attn.${t}`),
  ).flat();
}

/** A PEFT adapter directory with N(0, 0.02²) factors on every benchmark module (written lazily). */
export async function writeRandomAdapter(dir: string, spec: RandomAdapterSpec): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const generator = new Generator(spec.seed);
  const entries: TensorEntry[] = benchModules(spec.layers).flatMap((path) => [
    {
      name: `${KEY_PREFIX}${path}.lora_A.weight`,
      dtype: 'F32' as const,
      shape: [spec.r, spec.dim],
      data: () => randn([spec.r, spec.dim], { generator, std: 0.02 }).toArray() as Float32Array,
    },
    {
      name: `${KEY_PREFIX}${path}.lora_B.weight`,
      dtype: 'F32' as const,
      shape: [spec.dim, spec.r],
      data: () => randn([spec.dim, spec.r], { generator, std: 0.02 }).toArray() as Float32Array,
    },
  ]);
  await writeSafetensors(join(dir, WEIGHTS_NAME), entries, { metadata: { format: 'pt' } });
  const config = new LoraConfig({ r: spec.r, loraAlpha: spec.alpha, targetModules: [...BENCH_TARGETS] });
  const dict = config.toPeftDict();
  dict.inference_mode = true;
  writeTextAtomically(join(dir, CONFIG_NAME), dumpPythonJson(dict));
}
