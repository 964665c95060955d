import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { peftFixturesDir } from '@lorakit/vitest-config/fixtures';
import { describe, expect, it } from 'vitest';
import { lorakit, temporaryDirectory } from './run-cli.js';

const merges = join(peftFixturesDir(), 'merges', 'adapter');

describe('lorakit combine', () => {
  it.each([
    ['ties', ['--density', '0.5']],
    ['linear', []],
    ['cat', []],
    ['svd', ['--svd-rank', '2']],
  ])('%s merge of two adapter folders', (type, extra) => {
    const out = join(temporaryDirectory(), 'merged');
    const run = lorakit([
      'combine',
      '--adapters',
      `${merges}/a,${merges}/b`,
      '--weights',
      '0.7,0.3',
      '--type',
      type,
      ...extra,
      '--out',
      out,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const result = run.json<{ type: string; modules: string[] }>();
    expect(result.type).toBe(type);
    expect(result.modules.length).toBeGreaterThan(0);
    expect(lorakit(['inspect', out]).code).toBe(0);
  });

  it('one weight per adapter', () => {
    const run = lorakit([
      'combine',
      '--adapters',
      `${merges}/a,${merges}/b`,
      '--weights',
      '1',
      '--out',
      join(temporaryDirectory(), 'x'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      'lorakit: error: --weights has 1 value but --adapters names 2 adapters; give one weight per adapter',
    );
  });

  it('adapters of different base models are refused, naming the mismatch', () => {
    const gpt2 = join(peftFixturesDir(), 'gpt2_conv1d', 'adapter');
    const out = join(temporaryDirectory(), 'x');
    const run = lorakit(['combine', '--adapters', `${merges}/a,${gpt2}`, '--weights', '1,1', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: [combineAdapterFiles] the adapters were trained on different model classes: ${merges}/a on LlamaForCausalLM, ${gpt2} on GPT2LMHeadModel; combine adapters of one base`,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown type lists the registered ones', () => {
    const run = lorakit([
      'combine',
      '--adapters',
      `${merges}/a,${merges}/b`,
      '--weights',
      '1,1',
      '--type',
      'average',
      '--out',
      join(temporaryDirectory(), 'x'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^lorakit: error: --type must be one of .*ties.*, received "average"/);
  });

  it('ties without --density: the strategy names what is missing', () => {
    const run = lorakit([
      'combine',
      '--adapters',
      `${merges}/a,${merges}/b`,
      '--weights',
      '1,1',
      '--type',
      'ties',
      '--out',
      join(temporaryDirectory(), 'x'),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('needs density');
  });
});
