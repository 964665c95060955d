import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docsPackageRoot } from '../scripts/paths.js';
import { cliBinary, makeTwoAdapters, makeWorkspace } from './workspace.js';

// The guides' shell samples (examples/*.sh) run as written, with `lorakit` on PATH (the built CLI), in a
// folder laid out as the guides assume: ./my-model, train.jsonl, train.txt.
let workspace: ReturnType<typeof makeWorkspace>;
let bin: string;

function runScript(name: string): string {
  return execFileSync('bash', ['-euo', 'pipefail', join(docsPackageRoot, 'examples', name)], {
    cwd: workspace.dir,
    // js: bit-reproducible, so resuming is checked byte for byte (the threaded cpu backend's float sums
    // can differ in the last bits from run to run).
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LORAKIT_BACKEND: 'js' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

beforeAll(() => {
  if (!existsSync(cliBinary)) throw new Error(`${cliBinary} is missing: build @lorakit/cli first`);
  workspace = makeWorkspace();
  bin = join(workspace.dir, '.bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'lorakit'), `#!/bin/sh\nexec node "${cliBinary}" "$@"\n`);
  chmodSync(join(bin, 'lorakit'), 0o755);
});
afterAll(() => workspace?.cleanup());

describe('shell samples', () => {
  it('first-fine-tune.sh: inspect, train, inspect the adapter, generate', () => {
    const output = runScript('first-fine-tune.sh');
    expect(output).toContain('LlamaForCausalLM');
    const config = JSON.parse(readFileSync(join(workspace.dir, 'my-adapter', 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ r: 8, lora_alpha: 16, peft_type: 'LORA' });
    expect([...config.target_modules].sort()).toEqual(['q_proj', 'v_proj']);
    expect(output).toMatch(/shift: hello\|/);
  });
});

describe('training', () => {
  it('train-cli.sh trains with eval and checkpoints, resumes, and reports JSON', () => {
    const output = runScript('train-cli.sh');
    expect(existsSync(join(workspace.dir, 'run', 'checkpoint-10', 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(workspace.dir, 'run', 'checkpoint-20', 'optimizer.safetensors'))).toBe(true);
    const adapter = (dir: string) => readFileSync(join(workspace.dir, dir, 'adapter_model.safetensors'));
    // Resuming at step 10 reproduces the uninterrupted run's final weights exactly.
    expect(adapter('run-resumed').equals(adapter('run'))).toBe(true);
    const json = JSON.parse(output.slice(output.lastIndexOf('\n{') + 1));
    expect(json).toMatchObject({ kind: 'adapter' });
  });
});

describe('initializations', () => {
  it('init-cli.sh writes every init, trains PiSSA and converts it to LoRA', () => {
    runScript('init-cli.sh');
    const config = (dir: string) =>
      JSON.parse(readFileSync(join(workspace.dir, dir, 'adapter_config.json'), 'utf8'));
    // Inits that rewrite the base are saved as plain LoRA of their residual base; EVA keeps its name.
    for (const dir of ['pissa-init', 'olora-init', 'corda-init', 'loftq-init'])
      expect(config(dir)).toMatchObject({
        init_lora_weights: true,
        base_model_name_or_path: join(workspace.dir, dir, 'residual-base'),
      });
    expect(config('eva-init').init_lora_weights).toBe('eva');
    expect(config('pissa-as-lora')).toMatchObject({ r: 8, init_lora_weights: true });
    expect(existsSync(join(workspace.dir, 'pissa-init', 'residual-base'))).toBe(true);
  });
});

describe('merging', () => {
  it('combine-cli.sh combines adapter files and merges one into a checkpoint', async () => {
    await makeTwoAdapters(workspace.dir);
    runScript('combine-cli.sh');
    const config = (dir: string) =>
      JSON.parse(readFileSync(join(workspace.dir, dir, 'adapter_config.json'), 'utf8'));
    expect(config('ab-ties').r).toBe(8); // ties needs equal ranks and keeps them
    expect(config('ab-cat').r).toBe(16); // 8 + 8
    expect(existsSync(join(workspace.dir, 'ab-dare', 'adapter_model.safetensors'))).toBe(true);
    expect(existsSync(join(workspace.dir, 'merged', 'model.safetensors'))).toBe(true);
  });
});
