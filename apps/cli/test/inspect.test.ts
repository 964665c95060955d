import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { getPeftModel, saveAdapter } from '@lorakit/lora';
import { loadModel } from '@lorakit/models';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

const fixtures = peftFixturesDir();

describe('lorakit inspect', () => {
  it('recognises a folder of named adapters that are symbolic links', () => {
    const folder = temporaryDirectory();
    symlinkSync(join(fixtures, 'llama_qv', 'adapter'), join(folder, 'qv'));
    symlinkSync(join(fixtures, 'gpt2_conv1d', 'adapter'), join(folder, 'gpt2'));
    const run = lorakit(['inspect', folder]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`adapter  ${join(folder, 'gpt2')}`);
    expect(run.stdout).toContain(`adapter  ${join(folder, 'qv')}`);
  });

  it('summarizes an adapter with trainable tokens, alone and in a folder of named adapters', async () => {
    const folder = temporaryDirectory();
    const dir = join(folder, 'tokens');
    mkdirSync(dir);
    const peft = getPeftModel(await loadModel(join(fixtures, 'llama_qv', 'base')), {
      targetModules: ['q_proj'],
      trainableTokenIndices: { embed_tokens: [3, 5, 7] },
    });
    await saveAdapter(peft, dir);
    const run = lorakit(['inspect', dir, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const summary = run.json<{ fullTensors: { name: string; role: string }[]; warnings: string[] }>();
    expect(summary.fullTensors).toEqual([
      {
        name: 'base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta',
        shape: [3, 32],
        role: 'trainable tokens',
      },
    ]);
    expect(summary.warnings).toContain(
      'trainable tokens (trainable_token_indices: 3 rows of model.embed_tokens): servers that apply only LoRA factors ignore them; merge the adapter into the model (lorakit merge) to serve it there',
    );
    const all = lorakit(['inspect', folder]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('(trainable tokens)');
  });

  it('summarizes a PEFT adapter: modules, ranks, parameters, dtypes, size', () => {
    const run = lorakit(['inspect', join(fixtures, 'llama_qv', 'adapter'), '--json']);
    expect(run.code).toBe(0);
    const summary = run.json<{
      kind: string;
      modules: { name: string; rank: number; kind: string }[];
      ranks: Record<string, number>;
      parameters: number;
      dtypes: Record<string, number>;
      bytesOnDisk: number;
    }>();
    expect(summary.kind).toBe('adapter');
    expect(summary.modules.map((m) => m.name)).toContain('model.layers.0.self_attn.q_proj');
    expect(summary.modules.every((m) => m.kind === 'linear')).toBe(true);
    expect(Object.keys(summary.ranks).length).toBeGreaterThan(0);
    expect(summary.parameters).toBeGreaterThan(0);
    expect(summary.dtypes.F32).toBeGreaterThan(0);
    expect(summary.bytesOnDisk).toBeGreaterThan(0);
  });

  it('prints a human summary with a table of modules', () => {
    const run = lorakit(['inspect', join(fixtures, 'llama_qv', 'adapter')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('LoRA modules');
    expect(run.stdout).toContain('model.layers.0.self_attn.q_proj');
  });

  it('summarizes a model folder with its LoRA-targetable linear modules', () => {
    const run = lorakit(['inspect', demoBase, '--json']);
    expect(run.code).toBe(0);
    const summary = run.json<{
      kind: string;
      architecture: string;
      parameters: number;
      linearModules: Record<string, number>;
    }>();
    expect(summary).toMatchObject({ kind: 'model', architecture: 'LlamaForCausalLM', parameters: 84288 });
    expect(summary.linearModules).toMatchObject({ q_proj: 2, v_proj: 2, down_proj: 2 });
  });

  it('fails with one line and exit code 2 on a missing path', () => {
    const run = lorakit(['inspect', '/nonexistent/adapter']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('lorakit: error: /nonexistent/adapter does not exist');
  });
});

describe('lorakit inspect: ranks, compatibility and other inputs', () => {
  it('reads per-module ranks from rank_pattern (EVA adapter)', () => {
    const run = lorakit(['inspect', join(fixtures, 'init_eva', 'adapter'), '--json']);
    expect(run.code).toBe(0);
    const summary = run.json<{
      modules: { name: string; rank: number }[];
      config: { rank_pattern: Record<string, number> };
    }>();
    const rank = (name: string) => summary.modules.find((m) => m.name === name)?.rank;
    expect(rank('model.layers.0.mlp.down_proj')).toBe(2);
    expect(rank('model.layers.0.self_attn.o_proj')).toBe(6);
    expect(summary.config.rank_pattern['model.layers.0.mlp.down_proj']).toBe(2);
  });

  it('warns about DoRA for servers', () => {
    const run = lorakit(['inspect', join(fixtures, 'llama_dora', 'adapter'), '--json']);
    const summary = run.json<{ warnings: string[]; modules: { dora: boolean }[] }>();
    expect(summary.modules.every((m) => m.dora)).toBe(true);
    expect(summary.warnings.some((w) => w.startsWith('DoRA (use_dora) is not supported'))).toBe(true);
  });

  it('warns about modules_to_save and trained biases, naming the modules', () => {
    const run = lorakit(['inspect', join(fixtures, 'bert_seqcls_modules_to_save', 'adapter')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('warning: modules_to_save (classifier, score) stores full trained copies');
    expect(run.stdout).toContain('vLLM rejects adapters with modules_to_save');
    expect(run.stdout).toContain('trains biases');
  });

  it('--strict exits 3 when there are warnings', () => {
    expect(lorakit(['inspect', join(fixtures, 'llama_dora', 'adapter'), '--strict']).code).toBe(3);
    expect(lorakit(['inspect', join(fixtures, 'llama_qv', 'adapter'), '--strict']).code).toBe(0);
  });

  it('warns that a PiSSA adapter belongs to a residual base', () => {
    const run = lorakit(['inspect', join(fixtures, 'init_pissa', 'adapter'), '--json']);
    expect(run.json<{ warnings: string[] }>().warnings.join('\n')).toContain('lorakit convert');
  });

  it('summarizes every named adapter of a folder', () => {
    const run = lorakit(['inspect', join(fixtures, 'llama_multi_adapter_mixed_batch', 'adapter'), '--json']);
    expect(run.code).toBe(0);
    const { adapters } = run.json<{ adapters: { path: string }[] }>();
    expect(adapters.map((a) => a.path.split('/').pop())).toEqual(['alpha', 'beta']);
  });

  it('lists the tensors of a plain safetensors file', () => {
    const run = lorakit(['inspect', join(demoBase, 'model.safetensors'), '--json']);
    expect(run.code).toBe(0);
    const summary = run.json<{
      kind: string;
      tensors: { name: string; dtype: string }[];
      parameters: number;
    }>();
    expect(summary.kind).toBe('safetensors');
    expect(summary.parameters).toBe(84288);
    expect(summary.tensors.find((t) => t.name === 'model.embed_tokens.weight')?.dtype).toBe('F32');
  });

  it('rejects a folder that is neither an adapter nor a model', () => {
    const empty = temporaryDirectory();
    const run = lorakit(['inspect', empty]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: ${empty} is neither an adapter folder (adapter_config.json) nor a model folder (config.json)`,
    );
  });
});
