import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseShardSize as parseSize } from '@lorakit/models';

export type { LazyTensor } from '@lorakit/models';

/** `--max-shard-size`: "5GB", "500MB", "100KB" (decimal, as transformers parses them) or a byte count. */
export function parseShardSize(size: string): number {
  return parseSize(/^\s*\d+(\.\d+)?\s*$/.test(size) ? Number(size) : size, '--max-shard-size');
}

/** Files beside the weights that a merged checkpoint copies from its base. */
export const TOKENIZER_FILES: readonly string[] = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
];

/** Copies the tokenizer and generation files of a checkpoint, so the merged folder is usable alone. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  const copied: string[] = [];
  for (const file of TOKENIZER_FILES) {
    if (existsSync(join(from, file))) {
      copyFileSync(join(from, file), join(to, file));
      copied.push(file);
    }
  }
  return copied;
}
