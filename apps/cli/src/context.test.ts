import { afterEach, describe, expect, it, vi } from 'vitest';
import { CommandContext, type GlobalOptions } from './context.js';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const fake = {
    text: '',
    isTTY,
    write(chunk: string) {
      fake.text += chunk;
      return true;
    },
  };
  return fake as unknown as NodeJS.WriteStream & { text: string };
}

/** Runs a 10-step bar whose steps each take 1 s (performance.now is faked), returns what stderr got. */
function progressOutput(options: Partial<GlobalOptions>, isTTY: boolean): string {
  const stderr = stream(isTTY);
  const context = new CommandContext(
    { json: false, verbose: false, progress: true, backend: 'js', ...options },
    stream(false),
    stderr,
  );
  let now = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  const bar = context.progress({ label: 'train', total: 10 });
  for (let step = 1; step <= 10; step++) {
    now += 1000;
    bar.update(step, 'loss 1.0');
  }
  bar.finish();
  return stderr.text;
}

describe('CommandContext.progress', () => {
  afterEach(() => vi.restoreAllMocks());

  it('draws a bar on a terminal and lines elsewhere', () => {
    expect(progressOutput({}, true)).toContain('\rtrain  [');
    expect(progressOutput({}, false)).toContain('train  [████████████████████████████]  10/10');
  });

  it('prints nothing with --no-progress, on a terminal or not', () => {
    expect(progressOutput({ progress: false }, false)).toBe('');
    expect(progressOutput({ progress: false }, true)).toBe('');
  });

  it('prints nothing with --json', () => {
    expect(progressOutput({ json: true }, false)).toBe('');
  });
});
