import { getBackend, setDefaultBackend } from '@lorakit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { parseArguments } from './arguments.js';
import { selectBackend } from './backend.js';
import { lorakitPackages } from './packages.js';

const USAGE = 'usage: pnpm conformance [dir …] [--only case,case] [--backend auto|js|<installed backend>]';

afterEach(() => setDefaultBackend(undefined));

describe('runner arguments', () => {
  it('takes folders, --only and --backend (default js)', () => {
    expect(parseArguments(['cases', '--only', 'a,b', '--backend', 'cpu'], '/work')).toEqual({
      dirs: ['/work/cases'],
      only: new Set(['a', 'b']),
      backend: 'cpu',
    });
    expect(parseArguments([], '/work')).toEqual({ dirs: [], backend: 'js' });
  });

  it('rejects a missing value and unknown options', () => {
    expect(() => parseArguments(['--backend'], '/w')).toThrow(
      `[conformance] --backend needs a value, received none; ${USAGE}`,
    );
    expect(() => parseArguments(['--only', '--backend', 'js'], '/w')).toThrow(
      `[conformance] --only needs a value, received none; ${USAGE}`,
    );
    expect(() => parseArguments(['--fast'], '/w')).toThrow(
      `[conformance] unknown option --fast; options: --only, --backend; ${USAGE}`,
    );
  });
});

describe('backend selection', () => {
  it('offers the installed backend packages (declared in their package.json) and js', async () => {
    const backends = lorakitPackages()
      .filter((p) => p.backend)
      .map((p) => p.backend);
    expect(backends).toContain('cpu');
    await expect(selectBackend('cuda-nope')).rejects.toThrow(
      `[conformance] --backend must be one of ${['auto', 'js', ...backends].join(', ')} (the installed backend packages), received "cuda-nope"`,
    );
    expect(await selectBackend('js')).toEqual({ name: 'js' });
    expect(getBackend().name).toBe('js');
  });

  it('auto takes the highest-priority backend that registered', async () => {
    const chosen = await selectBackend('auto');
    expect(chosen.name).toBe(getBackend().name);
    expect(['js', 'cpu', 'cuda']).toContain(chosen.name);
  });
});
