import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nativeAvailable, nativeLoadError } from '../native.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface ChildReport {
  default: string;
  backends: { name: string; priority: number }[];
  registeredAgain: boolean;
  nativeAvailable: boolean;
  nativeLoadError?: string;
  warnings: string[];
  result: number[];
  createError?: string;
}

/** Imports the package entry in a fresh Node process, as an application would. */
function importInChild(env: Record<string, string>): ChildReport {
  const out = execFileSync(
    process.execPath,
    [
      '--conditions=@lorakit/source',
      '--import',
      'tsx',
      join(packageRoot, 'test', 'fixtures', 'registration-child.ts'),
    ],
    { cwd: packageRoot, env: { ...process.env, ...env }, encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildReport;
}

// softmax(x·xᵀ + 1) of x = [[1, 2], [3, 4]], on any backend.
const expected = [0.0024726232, 0.9975274, 8.3152804e-7, 0.9999992];

describe('registration', () => {
  it('without the addon (LORAKIT_CPU_BACKEND_DISABLE=1): js stays the default, one warning says why', () => {
    const report = importInChild({ LORAKIT_CPU_BACKEND_DISABLE: '1' });
    expect(report.default).toBe('js');
    expect(report.backends.map((b) => b.name)).toEqual(['js']);
    expect(report.nativeAvailable).toBe(false);
    expect(report.registeredAgain).toBe(false);
    expect(report.warnings).toEqual([
      '@lorakit/cpu-backend: native addon not available (disabled by LORAKIT_CPU_BACKEND_DISABLE=1); the JavaScript backend will be used',
    ]);
    expect(report.createError).toBe(
      'NativeUnavailableError: [createCpuBackend] the native addon is not available (disabled by LORAKIT_CPU_BACKEND_DISABLE=1); check nativeAvailable before using the CPU backend',
    );
    for (const [i, v] of report.result.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
  });

  it.skipIf(!nativeAvailable)(
    `with the addon: importing the package makes cpu the default at priority 10, silently${nativeAvailable ? '' : ` (skipped: ${nativeLoadError})`}`,
    () => {
      const report = importInChild({});
      expect(report.default).toBe('cpu');
      expect(report.backends).toEqual([
        { name: 'cpu', priority: 10 },
        { name: 'js', priority: 0 },
      ]);
      expect(report.registeredAgain).toBe(true);
      expect(report.warnings).toEqual([]);
      expect(report.createError).toBeUndefined();
      for (const [i, v] of report.result.entries()) expect(v).toBeCloseTo(expected[i]!, 6);
    },
  );
});
