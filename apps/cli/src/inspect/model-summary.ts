import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readConfig } from '@lorakit/models';
import { openTensorSource, shapeSize } from '@lorakit/safetensors';
import { sizeOnDisk } from '../paths.js';

export interface ModelSummary {
  readonly kind: 'model';
  readonly path: string;
  readonly architecture: string;
  readonly modelType: string;
  readonly config: Record<string, unknown>;
  readonly parameters: number;
  readonly tensors: number;
  readonly dtypes: Record<string, number>;
  readonly shards: number;
  readonly bytesOnDisk: number;
  readonly tokenizer: boolean;
  /** Linear-layer names (the last path component) with how many modules have each: LoRA targets. */
  readonly linearModules: Record<string, number>;
  readonly warnings: string[];
}

const SHOWN = [
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'max_position_embeddings',
  'tie_word_embeddings',
  'n_embd',
  'n_layer',
  'n_head',
];

/**
 * Summarizes a checkpoint folder from config.json and the safetensors headers only (no weights are
 * read): parameters, dtypes, shards, size, and the names of the 2-D weights that LoRA can target.
 */
export function summarizeModel(dir: string): ModelSummary {
  const config = readConfig(dir);
  const raw = config.raw as Record<string, unknown>;
  const source = openTensorSource(dir);
  try {
    const dtypes: Record<string, number> = {};
    let parameters = 0;
    const linearModules: Record<string, number> = {};
    const names = source.names();
    for (const name of names) {
      const info = source.info(name);
      dtypes[info.dtype] = (dtypes[info.dtype] ?? 0) + 1;
      parameters += shapeSize(info.shape);
      if (name.endsWith('.weight') && info.shape.length === 2 && !/(embed|wte|wpe|norm|ln_)/.test(name)) {
        const leaf = name.slice(0, -'.weight'.length).split('.').pop()!;
        linearModules[leaf] = (linearModules[leaf] ?? 0) + 1;
      }
    }
    const index = join(dir, 'model.safetensors.index.json');
    const shards = existsSync(index)
      ? new Set(
          Object.values(
            (JSON.parse(readFileSync(index, 'utf8')) as { weight_map: Record<string, string> }).weight_map,
          ),
        ).size
      : 1;
    const shown: Record<string, unknown> = {};
    for (const key of SHOWN) if (key in raw) shown[key] = raw[key];
    const warnings: string[] = [];
    const tokenizer = existsSync(join(dir, 'tokenizer.json'));
    if (!tokenizer)
      warnings.push('no tokenizer.json: `lorakit train` and `lorakit generate` need the fast tokenizer file');
    return {
      kind: 'model',
      path: dir,
      architecture: config.architectures[0] ?? '(none)',
      modelType: config.modelType,
      config: shown,
      parameters,
      tensors: names.length,
      dtypes,
      shards,
      bytesOnDisk: sizeOnDisk(dir),
      tokenizer,
      linearModules,
      warnings,
    };
  } finally {
    source.close();
  }
}
