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

/**
 * Two small adapters with non-zero B (init_lora_weights false), saved as ./adapter-a and ./adapter-b in
 * `dir`, for the merging samples.
 */
export async function makeTwoAdapters(dir: string): Promise<void> {
  const { getPeftModel, LoraConfig, saveAdapter } = await import('@lorakit/lora');
  const { loadModel } = await import('@lorakit/models');
  const { manualSeed } = await import('@lorakit/tensor');
  for (const [name, seed, r] of [
    ['adapter-a', 1, 8],
    ['adapter-b', 2, 8],
  ] as const) {
    manualSeed(seed);
    const peft = getPeftModel(
      await loadModel(demoModel),
      new LoraConfig({ r, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false }),
    );
    await saveAdapter(peft, join(dir, name));
  }
}
