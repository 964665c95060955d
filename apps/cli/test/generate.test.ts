import { describe, expect, it } from 'vitest';
import { demoBase, lorakit } from './run-cli.js';

describe('lorakit generate', () => {
  it('greedy: the demo base copies letters', () => {
    const run = lorakit([
      'generate',
      '--model',
      demoBase,
      '--prompt',
      'copy: hello|',
      '--max-new-tokens',
      '8',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const { completions } = run.json<{ completions: { prompt: string; completion: string }[] }>();
    expect(completions).toEqual([{ prompt: 'copy: hello|', completion: 'hello', tokens: 6 }]);
  });

  it('several prompts in one batch, human output', () => {
    const run = lorakit([
      'generate',
      '--model',
      demoBase,
      '--prompt',
      'copy: abcde|',
      '--prompt',
      'copy: vwxyz|',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('[1] copy: abcde|abcde\n[2] copy: vwxyz|vwxyz\n');
  });

  it('sampling with a seed repeats exactly', () => {
    const args = [
      'generate',
      '--model',
      demoBase,
      '--prompt',
      'shift: abcde|',
      '--temperature',
      '1.5',
      '--top-k',
      '10',
      '--top-p',
      '0.95',
      '--seed',
      '3',
      '--json',
    ];
    const first = lorakit(args).json<{ completions: { completion: string }[] }>();
    const second = lorakit(args).json<{ completions: { completion: string }[] }>();
    expect(first.completions[0]!.completion).toBe(second.completions[0]!.completion);
  });

  it('--max-new-tokens 0 is bad input: exit 2, one line', () => {
    const run = lorakit(['generate', '--model', demoBase, '--prompt', 'x', '--max-new-tokens', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(
      "lorakit: error: option '--max-new-tokens <n>' argument '0' is invalid. expected an integer ≥ 1, received \"0\"",
    );
  });

  it('a missing adapter folder: exit 2', () => {
    const run = lorakit(['generate', '--model', demoBase, '--adapter', '/nonexistent', '--prompt', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('lorakit: error: --adapter directory /nonexistent does not exist');
  });
});
