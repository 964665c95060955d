import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdapter, type PeftModel } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { readTensorFile, type Tensor } from '@lorakit/tensor';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import type { MergeStrategyOptions } from '../src/index.js';

/** The `merges` case: three adapters a, b, c on a tiny Llama and PEFT's merged tensors per tag. */
export const mergesDir = join(peftFixturesDir(), 'merges');

export interface MergeSpec {
  readonly adapters: string[];
  readonly weights: number[];
  readonly combination_type: string;
  readonly kwargs: Record<string, number | string>;
  readonly r: number;
  readonly lora_alpha: number;
  readonly deterministic: boolean;
}

export const mergeCase = JSON.parse(readFileSync(join(mergesDir, 'case.json'), 'utf8')) as {
  merges: Record<string, MergeSpec>;
};

export const expected: Map<string, Tensor> = readTensorFile(join(mergesDir, 'io.safetensors'));

/** PEFT's keyword arguments as our camelCase options. */
export function optionsOf(spec: MergeSpec): MergeStrategyOptions {
  const kw = spec.kwargs;
  return {
    ...(kw.density !== undefined && { density: kw.density as number }),
    ...(kw.majority_sign_method !== undefined && {
      majoritySignMethod: kw.majority_sign_method as 'total' | 'frequency',
    }),
    ...(kw.svd_rank !== undefined && { svdRank: kw.svd_rank as number }),
    ...(kw.svd_clamp !== undefined && { svdClamp: kw.svd_clamp as number }),
  };
}

/** Module paths the fixture holds merged tensors for under `tag`. */
export function fixtureModules(tag: string): string[] {
  return [...expected.keys()]
    .filter((k) => k.startsWith(`${tag}.`) && k.endsWith('.lora_A'))
    .map((k) => k.slice(tag.length + 1, -'.lora_A'.length));
}

/** The tiny Llama with adapters a, b and c loaded. */
export async function fixturePeft(): Promise<PeftModel> {
  const model = await loadModel(join(mergesDir, 'base'));
  const peft = loadAdapter(model, join(mergesDir, 'adapter', 'a'), { adapterName: 'a' });
  loadAdapter(peft, join(mergesDir, 'adapter', 'b'), { adapterName: 'b' });
  loadAdapter(peft, join(mergesDir, 'adapter', 'c'), { adapterName: 'c' });
  return peft;
}
