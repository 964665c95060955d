import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
export const cliPath = join(packageDir, 'dist', 'cli.js');
export const demoBase = join(packageDir, 'demo', 'base');

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

/** Runs the BUILT binary (`node dist/cli.js …`) as a user would, with the JS backend and no TTY. */
export function lorakit(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): CliRun {
  if (!existsSync(cliPath))
    throw new Error(`${cliPath} is missing: build the CLI first (pnpm --filter @lorakit/cli build)`);
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? packageDir,
    encoding: 'utf8',
    env: { ...process.env, LORAKIT_BACKEND: 'js', ...options.env },
    timeout: 170_000,
  });
  return {
    code: result.status ?? -1,
    stdout: result.stdout,
    stderr: result.stderr,
    json: <T>() => JSON.parse(result.stdout) as T,
  };
}

export function temporaryDirectory(prefix = 'lorakit-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
