import type { InitMethod } from '@lorakit/lora';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addMethodOptions, methodValues } from './method-options.js';

const method = (name: string, inputs: InitMethod['inputs']): InitMethod => ({
  name,
  summary: name,
  inputs,
  configure() {},
});

describe('init method options', () => {
  it('offers each input as --<name>, shares alike inputs, and namespaces clashes with built-in options', () => {
    const iters = { name: 'iters', description: 'iterations', type: 'integer', min: 1, default: 2 } as const;
    const a = method('alpha-init', [iters, { name: 'seed', description: 'own seed', type: 'integer' }]);
    const b = method('beta-init', [
      iters,
      { name: 'mode', description: 'mode', type: 'string', choices: ['x', 'y'] },
    ]);
    const c = method('gamma-init', [{ name: 'iters', description: 'other', type: 'string' }]);
    const command = new Command('init').exitOverride().option('--seed <n>', 'the CLI seed');
    const map = addMethodOptions(command, [a, b, c]);
    expect(command.options.map((o) => o.long)).toEqual([
      '--seed',
      '--iters',
      '--alpha-init-seed',
      '--mode',
      '--gamma-init-iters',
    ]);
    command.parse(['--alpha-init-seed', '7', '--mode', 'y', '--gamma-init-iters', 'fast'], { from: 'user' });
    const flags = command.opts();
    expect(methodValues(a, map, flags)).toEqual({ iters: 2, seed: 7 });
    expect(methodValues(b, map, flags)).toEqual({ iters: 2, mode: 'y' });
    expect(methodValues(c, map, flags)).toEqual({ iters: 'fast' });
    expect(command.options.find((o) => o.long === '--iters')?.description).toBe(
      'iterations (--method alpha-init, beta-init)',
    );
  });

  it('rejects values outside an input’s range or choices', () => {
    const command = new Command('init').exitOverride().configureOutput({ writeErr: () => {} });
    addMethodOptions(command, [
      method('m', [
        { name: 'bits', description: 'bits', type: 'integer', min: 1 },
        { name: 'kind', description: 'kind', type: 'string', choices: ['ipm', 'kpm'] },
      ]),
    ]);
    expect(() => command.parse(['--bits', '0'], { from: 'user' })).toThrow(
      "option '--bits <n>' argument '0' is invalid. expected an integer ≥ 1, received \"0\"",
    );
    expect(() => command.parse(['--kind', 'zz'], { from: 'user' })).toThrow(
      "option '--kind <value>' argument 'zz' is invalid. Allowed choices are ipm, kpm.",
    );
  });
});
