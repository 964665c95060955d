import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lorakit, packageDir } from './run-cli.js';

describe('lorakit --version', () => {
  it("prints the CLI package's version, a released one (not 0.0.0)", () => {
    const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(version).not.toBe('0.0.0');
    const run = lorakit(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  });
});
