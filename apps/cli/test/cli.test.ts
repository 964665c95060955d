import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoBase, lorakit, temporaryDirectory } from './run-cli.js';

const COMMANDS = ['demo', 'inspect', 'train', 'merge', 'generate', 'init', 'convert', 'combine'];

describe('the lorakit program', () => {
  it('lists every command in --help', () => {
    const run = lorakit(['--help']);
    expect(run.code).toBe(0);
    for (const command of COMMANDS) expect(run.stdout).toContain(`  ${command}`);
  });

  it.each(COMMANDS)('%s --help describes its options and exits 0', (command) => {
    const run = lorakit([command, '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Usage: lorakit ${command}`);
    expect(run.stdout).toContain('--json');
  });

  it.each(COMMANDS)('%s --help is wrapped once to 80 columns and marks required options', (command) => {
    const run = lorakit([command, '--help']);
    const [description = '', options = ''] = run.stdout.split('\nOptions:\n');
    // Wrapped once: every line but a paragraph's last is filled (the next word would not have fit).
    const lines = description.split('\n').slice(2);
    for (const [i, line] of lines.entries()) {
      expect(line.length, line).toBeLessThanOrEqual(80);
      const next = lines[i + 1];
      if (line && next && !next.startsWith(' ') && !line.endsWith(':'))
        expect(line.length + 1 + next.split(' ')[0]!.length, `${line}⏎${next}`).toBeGreaterThan(80);
    }
    const required = [...run.stdout.matchAll(/^ {2}(--[\w-]+).*\(required\)/gm)].map((m) => m[1]);
    expect(required.length > 0, 'some option is required').toBe(command !== 'demo' && command !== 'inspect');
    expect(options).not.toMatch(/^ {2}--json.*\(required\)/m);
  });

  it('rejects an unknown option with one line and exit code 2', () => {
    const run = lorakit(['inspect', '.', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("lorakit: error: unknown option '--colour'");
  });

  it.each([
    ['demo'],
    ['train', '--model', demoBase, '--data', 'data.txt'],
    ['merge', '--model', demoBase, '--adapter', 'adapter'],
    ['init', '--method', 'pissa', '--model', demoBase],
    ['convert', '--initial', 'a', '--trained', 'b'],
    ['combine', '--adapters', 'a,b', '--weights', '1,1'],
  ])('%s --out naming an existing file: exit 2, one line', (...args) => {
    const file = join(temporaryDirectory(), 'taken');
    writeFileSync(file, 'x');
    const run = lorakit([...args, '--out', file]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      `lorakit: error: --out ${file} is a file, expected a directory (created when missing)`,
    );
  });

  it('rejects an unknown command', () => {
    const run = lorakit(['finetune']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("lorakit: error: unknown command 'finetune'");
  });

  it('rejects a bad number with the flag and the expectation', () => {
    const run = lorakit(['generate', '--model', '.', '--prompt', 'x', '--top-p', '2']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      "lorakit: error: option '--top-p <p>' argument '2' is invalid. expected a number in (0, 1], received \"2\"",
    );
  });

  it('--verbose says which backend runs and why', () => {
    const js = lorakit([
      'generate',
      '-v',
      '--backend',
      'js',
      '--model',
      demoBase,
      '--prompt',
      'copy: abc|',
      '--max-new-tokens',
      '1',
    ]);
    expect(js.code, js.stderr).toBe(0);
    expect(js.stderr).toContain('backend: js — JavaScript reference backend (--backend js)');
    // auto: the highest-priority installed backend (cpu when its addon is built), else js with the reason.
    const auto = lorakit(
      ['generate', '-v', '--model', demoBase, '--prompt', 'copy: abc|', '--max-new-tokens', '1'],
      {
        env: { LORAKIT_BACKEND: 'auto' },
      },
    );
    expect(auto.code, auto.stderr).toBe(0);
    expect(auto.stderr).toMatch(
      /backend: (cpu — highest-priority registered backend \(@lorakit\/cpu-backend, priority 10\)|js — JavaScript reference backend; unavailable: cpu: .+)/,
    );
  });

  it('prints errors as JSON on stdout with --json', () => {
    const run = lorakit(['inspect', '/nonexistent', '--json']);
    expect(run.code).toBe(2);
    expect(run.json()).toEqual({ error: '/nonexistent does not exist', exitCode: 2 });
  });
});
