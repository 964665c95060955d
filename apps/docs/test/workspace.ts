import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../scripts/paths.js';

/** The tiny Llama that ships with the CLI (config.json, model.safetensors, tokenizer.json): "your model". */
export const demoModel = join(repoRoot, 'apps', 'cli', 'demo', 'base');
export const cliBinary = join(repoRoot, 'apps', 'cli', 'dist', 'cli.js');

/** `shift: abc|bcd` examples: every letter moves one on (the demo's task, which the base never saw). */
export function shiftExamples(count: number, seed = 1): { prompt: string; completion: string }[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: count }, () => {
    const word = Array.from({ length: 3 + Math.floor(next() * 3) }, () =>
      String.fromCharCode(97 + Math.floor(next() * 26)),
    ).join('');
    const shifted = [...word].map((c) => String.fromCharCode(97 + ((c.charCodeAt(0) - 96) % 26))).join('');
    return { prompt: `shift: ${word}|`, completion: shifted };
  });
}

/**
 * A scratch folder laid out as the guides assume: ./my-model (a copy of the demo model), train.jsonl
 * (prompt/completion lines) and train.txt (plain lines).
 */
export function makeWorkspace(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lorakit-docs-'));
  cpSync(demoModel, join(dir, 'my-model'), { recursive: true });
  const examples = shiftExamples(64);
  writeFileSync(join(dir, 'train.jsonl'), examples.map((e) => JSON.stringify(e)).join('\n'));
  writeFileSync(join(dir, 'train.txt'), examples.map((e) => e.prompt + e.completion).join('\n'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
