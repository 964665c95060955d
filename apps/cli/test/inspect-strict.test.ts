import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TensorEntry, writeSafetensors } from '@lorakit/safetensors';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { lorakit, temporaryDirectory } from './run-cli.js';

const original = join(peftFixturesDir(), 'llama_qv', 'adapter');

/** A copy of llama_qv's adapter with an edited config and, optionally, other tensors. */
async function variant(
  dir: string,
  name: string,
  config: (text: string) => string,
  tensors?: TensorEntry[],
): Promise<string> {
  const out = join(dir, name);
  mkdirSync(out);
  writeFileSync(
    join(out, 'adapter_config.json'),
    config(readFileSync(join(original, 'adapter_config.json'), 'utf8')),
  );
  if (tensors) await writeSafetensors(join(out, 'adapter_model.safetensors'), tensors);
  else copyFileSync(join(original, 'adapter_model.safetensors'), join(out, 'adapter_model.safetensors'));
  return out;
}

const setTargets = (value: string) => (text: string) =>
  text.replace(/"target_modules": \[[^\]]*\]/, `"target_modules": ${value}`);

describe('inspect --strict fails whenever loading would', () => {
  let dir: string;
  beforeAll(() => {
    dir = temporaryDirectory('lorakit-inspect-strict-');
  });

  it('an invalid target_modules regex', async () => {
    const adapter = await variant(dir, 'regex', setTargets('".*(q_proj"'));
    const run = lorakit(['inspect', adapter, '--strict']);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(
      'warning: target_modules: ".*(q_proj" is not a valid regular expression: Invalid regular expression: /^(?:.*(q_proj)$/: Unterminated group; loading fails',
    );
  });

  it('target_modules: 5', async () => {
    const adapter = await variant(dir, 'five', setTargets('5'));
    const run = lorakit(['inspect', adapter, '--strict']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'lorakit: error: [LoraConfig] target_modules must be a list of module names, a regex string, or null, received 5',
    );
  });

  it('a weights file with no tensors', async () => {
    const adapter = await variant(dir, 'empty', (t) => t, []);
    const run = lorakit(['inspect', adapter, '--strict']);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('warning: adapter_model.safetensors has no tensors: loading fails');
  });

  it('a config that is a JSON array', async () => {
    const adapter = await variant(dir, 'array', () => '[1, 2]');
    const run = lorakit(['inspect', adapter, '--strict']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: [loadAdapter] ${join(adapter, 'adapter_config.json')} must hold a JSON object, received an array`,
    );
  });

  it('integer factors', async () => {
    const adapter = await variant(dir, 'int', (t) => t, [
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
        dtype: 'I32',
        shape: [8, 32],
        data: new Int32Array(256),
      },
      {
        name: 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight',
        dtype: 'F32',
        shape: [32, 8],
        data: new Float32Array(256),
      },
    ]);
    const run = lorakit(['inspect', adapter, '--strict']);
    expect(run.code).toBe(3);
    expect(run.stdout).toContain(
      'warning: tensors that are not floating point: base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight (I32): loading fails',
    );
  });

  it('a damaged weights file names the file', async () => {
    const adapter = await variant(dir, 'damaged', (t) => t);
    writeFileSync(
      join(adapter, 'adapter_model.safetensors'),
      Buffer.from('\u0004\u0000\u0000\u0000\u0000\u0000\u0000\u0000 {} '),
    );
    const run = lorakit(['inspect', adapter]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(join(adapter, 'adapter_model.safetensors'));
  });
});
