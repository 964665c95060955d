import { describe, expect, it } from 'vitest';
import { lorakit } from './run-cli.js';

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

  it('rejects an unknown option with one line and exit code 2', () => {
    const run = lorakit(['inspect', '.', '--colour']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe("lorakit: error: unknown option '--colour'");
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

  it('explains why --backend cpu is unavailable', () => {
    const run = lorakit(['generate', '--backend', 'cpu', '--model', '.', '--prompt', 'x'], {
      env: { LORAKIT_BACKEND: 'auto' },
    });
    expect(run.code).toBe(2);
    // Until @lorakit/cpu-backend registers a backend the reason is printed; afterwards the model check fails.
    expect(run.stderr).toMatch(/^lorakit: error: (--backend cpu: |--model directory \. has no config.json)/);
  });

  it('prints errors as JSON on stdout with --json', () => {
    const run = lorakit(['inspect', '/nonexistent', '--json']);
    expect(run.code).toBe(2);
    expect(run.json()).toEqual({ error: '/nonexistent does not exist', exitCode: 2 });
  });
});
