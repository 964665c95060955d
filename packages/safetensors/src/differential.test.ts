import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@lorakit/vitest-config/fixtures';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { caseBytes, checkReaderCase, readerCase, seedFile } from '../fuzz/reader-fuzz.js';

const python = join(repoRoot, '.venv-ref', 'bin', 'python');
const hasReference =
  existsSync(python) && spawnSync(python, ['-c', 'import safetensors'], { encoding: 'utf8' }).status === 0;

// Python's `safetensors.deserialize` is the Rust crate's reader. Each case file is judged by both.
const JUDGE = `
import sys, json
from safetensors import deserialize
out = []
for path in sys.argv[1:]:
    try:
        deserialize(open(path, 'rb').read()); out.append('accepted')
    except Exception:
        out.append('rejected')
print(json.dumps(out))
`;

describe.skipIf(!hasReference)(
  `differential (${hasReference ? 'Python safetensors found' : 'skipped: .venv-ref with safetensors not installed'}): the reader against the Rust crate`,
  () => {
    it('accepts and refuses the same fuzzed files, except headers with leading whitespace (refused on purpose)', async () => {
      const seed = await seedFile();
      const dir = mkdtempSync(join(tmpdir(), 'st-differential-'));
      try {
        const cases = fc.sample(readerCase, { seed: 31337, numRuns: 1500 });
        const paths = cases.map((c, i) => {
          const path = join(dir, `${i}.safetensors`);
          writeFileSync(path, caseBytes(seed, c));
          return path;
        });
        const ours = cases.map((c) => checkReaderCase(seed, c));
        const run = spawnSync(python, ['-c', JUDGE, ...paths], { encoding: 'utf8', maxBuffer: 1 << 24 });
        expect(run.status, run.stderr).toBe(0);
        const theirs = JSON.parse(run.stdout) as string[];
        const differences = cases
          .map((c, i) => ({ i, bytes: caseBytes(seed, c) }))
          .filter(({ i }) => ours[i] !== theirs[i]);
        for (const { i, bytes } of differences) {
          // The crate's "must start with {" check is commented out ("add when we move to 0.4.0"); the
          // issue asks for it, so lorakit refuses whitespace before the object. Nothing else may differ.
          expect([ours[i], theirs[i], [0x20, 0x0a, 0x0d, 0x09].includes(bytes[8]!)]).toEqual([
            'rejected',
            'accepted',
            true,
          ]);
        }
        expect(ours.filter((v) => v === 'accepted').length).toBeGreaterThan(10);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
