import type { Random } from './random.js';

/** The word classes of the toy language the "speech" is in. */
export const WORDS = {
  determiner: ['the', 'a', 'every', 'some'],
  adjective: ['small', 'red', 'quiet', 'old', 'bright'],
  noun: ['cat', 'dog', 'bird', 'child', 'teacher', 'farmer', 'river', 'house'],
  verb: ['sees', 'finds', 'likes', 'follows', 'paints', 'helps'],
  preposition: ['near', 'behind', 'under'],
  adverb: ['today', 'slowly', 'again'],
} as const;

/** Words a recognizer may wrongly emit that the grammar never uses (fillers, near-homophones). */
export const NOISE_WORDS = ['uh', 'um', 'of', 'and', 'to', 'seas', 'dear', 'bred', 'fined', 'cot'] as const;

/** Every word of the task, grammar first. */
export const VOCABULARY: readonly string[] = [...Object.values(WORDS).flat(), ...NOISE_WORDS];

/** A noun phrase: determiner, an optional adjective, a noun. */
function nounPhrase(random: Random): string[] {
  const phrase: string[] = [random.pick(WORDS.determiner)];
  if (random.next() < 0.5) phrase.push(random.pick(WORDS.adjective));
  phrase.push(random.pick(WORDS.noun));
  return phrase;
}

/** subject verb object [preposition noun-phrase] [adverb]: 5 to 13 words. */
export function sentence(random: Random): string[] {
  const words = [...nounPhrase(random), random.pick(WORDS.verb), ...nounPhrase(random)];
  if (random.next() < 0.4) words.push(random.pick(WORDS.preposition), ...nounPhrase(random));
  if (random.next() < 0.3) words.push(random.pick(WORDS.adverb));
  return words;
}
