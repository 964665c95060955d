import { join } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { demoBase, lorakit } from './run-cli.js';

const fixtures = peftFixturesDir();

describe('lorakit inspect', () => {
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
