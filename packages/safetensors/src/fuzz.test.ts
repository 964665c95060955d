import fc from 'fast-check';
import { describe, it } from 'vitest';
import { checkReaderCase, readerCase, seedFile } from '../fuzz/reader-fuzz.js';

describe('fuzz (bounded, seeded): the reader never crashes and always names the file', () => {
  it('mutated files and hostile headers open cleanly or throw a short LorakitError naming the file', async () => {
    const seed = await seedFile();
    fc.assert(
      fc.property(readerCase, (c) => {
        checkReaderCase(seed, c);
      }),
      { seed: 20261207, numRuns: 4000, interruptAfterTimeLimit: 4000 },
    );
  });
});
