import { type Generator, getDefaultGenerator } from '@lorakit/tensor';

let scoped: Generator | undefined;

/**
 * Runs `fn` (synchronously: `getPeftModel`, `addAdapter` and `loadAdapter` are synchronous) with
 * `generator` as the random source of the randomized inits — `pissa_niter_N`'s Gaussian sketch and
 * `orthogonal`'s Gaussian draws. Layers draw from it in model order, so the same seed gives the same
 * factors and the same residual base weights, also when a saved `pissa_niter_N` adapter is loaded
 * and its residual is rebuilt (PEFT draws from torch's global generator and cannot guarantee that).
 *
 * @example
 * ```ts
 * const peft = withInitGenerator(new Generator(42), () =>
 *   getPeftModel(model, new LoraConfig({ r: 16, initLoraWeights: 'pissa_niter_4', targetModules: ['q_proj'] })),
 * );
 * ```
 */
export function withInitGenerator<T>(generator: Generator, fn: () => T): T {
  const previous = scoped;
  scoped = generator;
  try {
    return fn();
  } finally {
    scoped = previous;
  }
}

/** The generator randomized inits draw from: the one of {@link withInitGenerator}, else the default one. */
export function initGenerator(): Generator {
  return scoped ?? getDefaultGenerator();
}
