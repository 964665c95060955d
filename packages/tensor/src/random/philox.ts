import type { RandomSpec } from '../backend/kernels.js';

/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011): a counter-based
 * generator. Block b (a 64-bit counter) under a 64-bit key gives four 32-bit words; word w of a request
 * comes from block `counter + floor(w / 4)`, lane `w % 4`. Every backend must produce exactly these
 * numbers, so this file is the definition.
 *
 * From words to values (`u24(x) = (x >>> 8) · 2⁻²⁴`, exact in float32, in [0, 1)):
 * - uniform(low, high):   element i = low + (high − low) · u24(word i)
 * - bernoulli(p):         element i = u24(word i) < p ? 1 : 0
 * - randint(low, high):   element i = low + floor(word i · (high − low) / 2³²)
 * - normal(mean, std):    element i from words 2i, 2i+1 by Box–Muller:
 *                         u1 = (u24(w₂ᵢ)·2²⁴ + 0.5)·2⁻²⁴, u2 = u24(w₂ᵢ₊₁),
 *                         mean + std · sqrt(−2 ln u1) · cos(2π u2)
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhi(a: number, b: number): number {
  const aH = a >>> 16;
  const aL = a & 0xffff;
  const bH = b >>> 16;
  const bL = b & 0xffff;
  const ll = aL * bL;
  const lh = aL * bH;
  const hl = aH * bL;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (aH * bH + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** One Philox4x32-10 block: counter words c0..c3 under key k0, k1 → four words written to `out`. */
export function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
  at = 0,
): void {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = c3;
}

/** `count` consecutive words starting at block `counter` (a non-negative integer below 2⁵³). */
export function philoxWords(key: readonly [number, number], counter: number, count: number): Uint32Array {
  const blocks = Math.ceil(count / 4);
  const words = new Uint32Array(blocks * 4);
  for (let b = 0; b < blocks; b++) {
    const block = counter + b;
    philoxBlock(block >>> 0, Math.floor(block / 4294967296) >>> 0, 0, 0, key[0], key[1], words, b * 4);
  }
  return count === words.length ? words : words.subarray(0, count);
}

/** How many 32-bit words a request consumes (the generator advances by ceil(words / 4) blocks). */
export function wordsNeeded(spec: RandomSpec, size: number): number {
  return spec.kind === 'normal' ? 2 * size : size;
}

const TWO_POW_24 = 16777216;

/** Fills `out` per the definition above (the JS reference implementation of the `random` kernel). */
export function fillRandom(
  out: { [i: number]: number; length: number },
  spec: RandomSpec,
  key: readonly [number, number],
  counter: number,
): void {
  const size = out.length;
  const words = philoxWords(key, counter, wordsNeeded(spec, size));
  switch (spec.kind) {
    case 'uniform': {
      const span = spec.high - spec.low;
      for (let i = 0; i < size; i++) out[i] = spec.low + span * ((words[i]! >>> 8) / TWO_POW_24);
      break;
    }
    case 'bernoulli':
      for (let i = 0; i < size; i++) out[i] = (words[i]! >>> 8) / TWO_POW_24 < spec.p ? 1 : 0;
      break;
    case 'randint': {
      const span = spec.high - spec.low;
      for (let i = 0; i < size; i++) out[i] = spec.low + Math.floor((words[i]! * span) / 4294967296);
      break;
    }
    case 'normal':
      for (let i = 0; i < size; i++) {
        const u1 = ((words[2 * i]! >>> 8) + 0.5) / TWO_POW_24;
        const u2 = (words[2 * i + 1]! >>> 8) / TWO_POW_24;
        out[i] = spec.mean + spec.std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      }
      break;
  }
}
