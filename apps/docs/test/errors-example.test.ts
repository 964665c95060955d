import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { commonMistakes, tryTargets } from '../examples/errors.js';
import { demoModel } from './workspace.js';

// Its own file: no plugin package is imported here, as in a program that forgot to import one.
const empty = mkdtempSync(join(tmpdir(), 'lorakit-docs-empty-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('errors', () => {
  it('tryTargets catches NoMatchingModuleError by class and returns undefined', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await tryTargets(demoModel, ['q_prj'])).toBeUndefined();
    expect(error.mock.calls[0]![0]).toMatch(
      /^\[lora\] Target modules \{'q_prj'\} not found in the base model\./,
    );
    error.mockRestore();
    expect(await tryTargets(demoModel, ['q_proj'])).toBeDefined();
  });

  it('commonMistakes raises these exact errors', async () => {
    const found = await commonMistakes(demoModel, empty);
    expect(found.map(({ mistake, kind }) => [mistake, kind])).toEqual([
      ['a misspelled target module', 'NoMatchingModuleError'],
      ['a rank of 0', 'AdapterError'],
      ['a folder that is not an adapter', 'AdapterFormatError'],
      ['a folder that is not a model', 'ConfigError'],
      ['an init whose plugin is not imported', 'LoraConfigError'],
      ['a PEFT feature lorakit does not implement', 'UnsupportedFeatureError'],
    ]);
    const messages = found.map(({ message }) => message);
    expect(messages[0]).toMatch(
      /^\[lora\] Target modules \{'q_prj'\} not found in the base model\. Please check the target modules and try again\. Leaf modules in this model: model\.embed_tokens, model\.layers\.0\.self_attn\.q_proj, /,
    );
    expect(messages.slice(1)).toEqual([
      '[lora] `r` should be a positive integer value but the value passed is 0',
      `[loadAdapter] ${empty} has no adapter_config.json`,
      `[loadModel] ${empty} has no config.json`,
      "[lora] Unknown initialization init_lora_weights='pissa' for linear layer model.layers.0.self_attn.q_proj; registered strategies: kaiming, gaussian, false; it is provided by @lorakit/inits-svd: import '@lorakit/inits-svd' first",
      '[LoraConfig] lorakit does not support QA-LoRA (use_qalora); use_qalora must be false',
    ]);
  });
});
