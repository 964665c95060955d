// Where the PEFT reference fixtures live, for tests and the conformance runner.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (two folders above tooling/vitest). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The PEFT fixtures folder: `LORAKIT_PEFT_FIXTURES` if set, else the shared ground truth beside the
 * checkout (`../shared/fixtures/peft`), else the copy committed in `fixtures/peft` (kept identical to
 * the shared one by a test), so a clone on its own still runs the suite.
 */
export function peftFixturesDir() {
  const candidates = [
    process.env.LORAKIT_PEFT_FIXTURES,
    join(repoRoot, '..', 'shared', 'fixtures', 'peft'),
    join(repoRoot, 'fixtures', 'peft'),
  ].filter(Boolean);
  for (const dir of candidates) if (existsSync(join(dir, 'README.md'))) return dir;
  throw new Error(`PEFT fixtures not found; looked in ${candidates.join(', ')}`);
}

/** Our own extra cases, generated with the reference Python stack (tooling/fixtures-gen). */
export const extraFixturesDir = join(repoRoot, 'fixtures', 'peft-extra');
