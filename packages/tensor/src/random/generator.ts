import type { RandomSpec } from '../backend/kernels.js';
import { TensorError } from '../errors.js';
import { wordsNeeded } from './philox.js';

/**
 * A seeded stream of random numbers. It holds a Philox key (from the seed) and a block counter; each
 * request takes the next blocks, so the same seed and the same sequence of requests give the same
 * numbers on every backend.
 */
export class Generator {
  #key: [number, number] = [0, 0];
  #counter = 0;
  #seed = 0;

  constructor(seed = 0) {
    this.manualSeed(seed);
  }

  /** Resets to the start of the stream of `seed` (an integer in [0, 2⁵³)). */
  manualSeed(seed: number): this {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new TensorError(`[Generator] seed must be a non-negative safe integer, received ${seed}`);
    }
    this.#seed = seed;
    this.#key = [seed >>> 0, Math.floor(seed / 4294967296) >>> 0];
    this.#counter = 0;
    return this;
  }

  get seed(): number {
    return this.#seed;
  }

  /** Position in the stream (in 128-bit blocks); save it with the seed to resume. */
  get offset(): number {
    return this.#counter;
  }
  set offset(value: number) {
    this.#counter = value;
  }

  /** @internal Reserves the blocks for one request; returns the key and the first block. */
  take(spec: RandomSpec, size: number): { key: readonly [number, number]; counter: number } {
    const counter = this.#counter;
    this.#counter += Math.ceil(wordsNeeded(spec, size) / 4);
    return { key: this.#key, counter };
  }
}

let defaultGenerator = new Generator(0);

/** Seeds the default generator (used when an op is given none). */
export function manualSeed(seed: number): Generator {
  defaultGenerator = new Generator(seed);
  return defaultGenerator;
}

export function getDefaultGenerator(): Generator {
  return defaultGenerator;
}
