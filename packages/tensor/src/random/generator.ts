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
    for (const starts of recordings) if (!starts.has(this)) starts.set(this, counter);
    this.#counter += Math.ceil(wordsNeeded(spec, size) / 4);
    return { key: this.#key, counter };
  }
}

let defaultGenerator = new Generator(0);

/** Open recordings of where each generator stood at its first request (see `recordRandomStarts`). */
const recordings: Map<Generator, number>[] = [];

/**
 * @internal Runs `fn` and returns, with its result, the position of every generator at its first
 * request inside `fn`, and the default generator of the time: what `replayRandom` needs to make a
 * re-run draw the same numbers (gradient checkpointing).
 */
export function recordRandomStarts<T>(fn: () => T): { result: T; starts: RandomStarts } {
  const starts = new Map<Generator, number>();
  const generator = defaultGenerator;
  recordings.push(starts);
  try {
    return { result: fn(), starts: { generator, offsets: starts } };
  } finally {
    recordings.splice(recordings.lastIndexOf(starts), 1);
  }
}

/** @internal Where the generators stood when a recorded function started drawing. */
export interface RandomStarts {
  readonly generator: Generator;
  readonly offsets: ReadonlyMap<Generator, number>;
}

/**
 * @internal Runs `fn` with every generator of `starts` back at its recorded position and the recorded
 * default generator in place, then puts them all back where they were.
 */
export function replayRandom<T>(starts: RandomStarts, fn: () => T): T {
  const current = [...starts.offsets.keys()].map((g) => [g, g.offset] as const);
  const previousDefault = defaultGenerator;
  for (const [g, offset] of starts.offsets) g.offset = offset;
  defaultGenerator = starts.generator;
  try {
    return fn();
  } finally {
    defaultGenerator = previousDefault;
    for (const [g, offset] of current) g.offset = offset;
  }
}

/** Seeds the default generator (used when an op is given none). */
export function manualSeed(seed: number): Generator {
  defaultGenerator = new Generator(seed);
  return defaultGenerator;
}

export function getDefaultGenerator(): Generator {
  return defaultGenerator;
}
