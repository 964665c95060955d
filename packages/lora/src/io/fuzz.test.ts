import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import { adapterCase, checkAdapterCase } from '../../fuzz/adapter-fuzz.js';

const root = mkdtempSync(join(tmpdir(), 'lorakit-adapter-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fuzz (bounded, seeded): loadAdapter on malformed adapters', () => {
  it('loads exactly what the files say, or throws a LorakitError and leaves the model as it was', async () => {
    await fc.assert(
      fc.asyncProperty(adapterCase, async (c) => {
        await checkAdapterCase(join(root, 'case'), c);
      }),
      { seed: 20261207, numRuns: 600, interruptAfterTimeLimit: 4000 },
    );
  });
});
