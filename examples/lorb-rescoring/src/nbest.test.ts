import { describe, expect, it } from 'vitest';
import { VOCABULARY, WORDS } from './grammar.js';
import { editDistance, makeNbestData, wordErrorRate } from './nbest.js';

describe('synthetic n-best data', () => {
  it('word edit distance counts substitutions, insertions and deletions', () => {
    const ref = 'the cat sees a dog'.split(' ');
    expect(editDistance(ref, ref)).toBe(0);
    expect(editDistance('the cot sees a dog'.split(' '), ref)).toBe(1);
    expect(editDistance('the cat uh sees a dog'.split(' '), ref)).toBe(1);
    expect(editDistance('the cat sees dog'.split(' '), ref)).toBe(1);
    expect(editDistance([], ref)).toBe(5);
  });

  it('every utterance has n distinct hypotheses sorted by first-pass cost, with their true errors', () => {
    const data = makeNbestData({ utterances: 50, seed: 9, size: 5 });
    for (const { reference, nbest } of data) {
      expect(nbest).toHaveLength(5);
      expect(new Set(nbest.map((h) => h.words.join(' '))).size).toBe(5);
      for (let i = 1; i < nbest.length; i++)
        expect(nbest[i]!.firstPassCost).toBeGreaterThanOrEqual(nbest[i - 1]!.firstPassCost);
      for (const h of nbest) {
        expect(h.errors).toBe(editDistance(h.words, reference));
        for (const w of h.words) expect(VOCABULARY).toContain(w);
      }
      expect(WORDS.determiner as readonly string[]).toContain(reference[0]);
    }
  });

  it('is the same for the same seed, and the first pass leaves errors an oracle would avoid', () => {
    const a = makeNbestData({ utterances: 200, seed: 3 });
    expect(makeNbestData({ utterances: 200, seed: 3 })).toEqual(a);
    const firstPass = wordErrorRate(a, () => 0);
    const oracle = wordErrorRate(a, (u) =>
      u.nbest.findIndex((h) => h.errors === Math.min(...u.nbest.map((x) => x.errors))),
    );
    expect(firstPass).toBeGreaterThan(0.03);
    expect(oracle).toBeLessThan(firstPass / 3);
  });
});
