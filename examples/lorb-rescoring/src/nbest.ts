import { NOISE_WORDS, sentence, VOCABULARY } from './grammar.js';
import { Random } from './random.js';

/** One recognizer hypothesis: its words, its first-pass cost (−log score; lower is better), its errors. */
export interface Hypothesis {
  readonly words: readonly string[];
  readonly firstPassCost: number;
  /** Word-level edit distance to the reference. */
  readonly errors: number;
}

/** One utterance: the reference transcript and its n-best list, sorted by first-pass cost. */
export interface Utterance {
  readonly reference: readonly string[];
  readonly nbest: readonly Hypothesis[];
}

export interface NbestOptions {
  readonly utterances: number;
  /** Hypotheses per utterance (default 6). */
  readonly size?: number;
  readonly seed: number;
  /** Probability that the reference itself is among the hypotheses (default 0.9). */
  readonly oracleRate?: number;
  /** Standard deviation of the first-pass cost noise (default 1.1); errors add 1 each. */
  readonly noise?: number;
}

/** Word-level Levenshtein distance (substitutions, insertions and deletions all cost 1). */
export function editDistance(a: readonly string[], b: readonly string[]): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** 1 to 3 recognizer errors: a substitution (any word), an insertion (mostly fillers) or a deletion. */
function corrupt(reference: readonly string[], random: Random): string[] {
  const words = [...reference];
  const edits = 1 + random.int(3);
  for (let e = 0; e < edits; e++) {
    const kind = random.next();
    const at = random.int(words.length);
    if (kind < 0.5 || words.length < 3) words[at] = random.pick(VOCABULARY);
    else if (kind < 0.75)
      words.splice(at, 0, random.next() < 0.6 ? random.pick(NOISE_WORDS) : random.pick(VOCABULARY));
    else words.splice(at, 1);
  }
  return words;
}

/**
 * A synthetic n-best data set: references from the grammar; hypotheses with substitutions, insertions
 * and deletions; a first-pass cost per hypothesis of (its errors + Gaussian noise), so the first pass
 * prefers accurate hypotheses but often ranks a wrong one first — the errors a second pass can fix.
 */
export function makeNbestData(options: NbestOptions): Utterance[] {
  const random = new Random(options.seed);
  const size = options.size ?? 6;
  const oracleRate = options.oracleRate ?? 0.9;
  const noise = options.noise ?? 1.1;
  return Array.from({ length: options.utterances }, () => {
    const reference = sentence(random);
    const seen = new Set<string>();
    const candidates: string[][] = [];
    if (random.next() < oracleRate) candidates.push([...reference]);
    for (let tries = 0; candidates.length < size; tries++) {
      if (tries > 500)
        throw new Error(
          `[makeNbestData] cannot find ${size} distinct hypotheses for "${reference.join(' ')}"`,
        );
      const words = corrupt(reference, random);
      const key = words.join(' ');
      if (key !== reference.join(' ') && !seen.has(key)) candidates.push(words);
      seen.add(key);
    }
    const nbest = candidates
      .map((words) => {
        const errors = editDistance(words, reference);
        return { words, errors, firstPassCost: errors + noise * random.normal() };
      })
      .sort((a, b) => a.firstPassCost - b.firstPassCost);
    return { reference, nbest };
  });
}

/** Word error rate of choosing hypothesis `choice(u)` in each utterance: total errors / reference words. */
export function wordErrorRate(
  data: readonly Utterance[],
  choice: (u: Utterance, index: number) => number,
): number {
  let errors = 0;
  let words = 0;
  for (const [index, utterance] of data.entries()) {
    errors += utterance.nbest[choice(utterance, index)]!.errors;
    words += utterance.reference.length;
  }
  return errors / words;
}
