import {
  getMergeStrategy,
  type MergeStrategy,
  RegistryError,
  registeredMergeStrategies,
  registerMergeStrategy,
} from '@lorakit/lora';
import { CAT } from './cat.js';
import { factorSpace } from './factor-space.js';
import { TASK_MERGES } from './task-merge.js';
import { withSvd } from './with-svd.js';

/** Marks strategies made by this package, so a second copy of it (ESM and CJS) can tell them apart. */
const OWNER = Symbol.for('@lorakit/merge-strategies');

function owned(strategy: MergeStrategy): MergeStrategy {
  return Object.assign(strategy, { [OWNER]: true });
}

/**
 * PEFT 0.21's eleven combination types, in PEFT's order: the non-SVD family, `cat`, and the SVD forms of
 * the non-SVD family (one `withSvd` combinator, not copies).
 */
export const BUILTIN_MERGE_STRATEGIES: readonly MergeStrategy[] = [
  ...TASK_MERGES.map(factorSpace),
  CAT,
  ...TASK_MERGES.map(withSvd),
].map(owned);

/**
 * Registers the built-in strategies into @lorakit/lora's merge registry (done on import). A name that is
 * already taken by one of ours (this package loaded twice) is skipped; taken by anything else, it throws
 * as the registry does.
 */
export function registerBuiltinMergeStrategies(): void {
  const taken = new Set(registeredMergeStrategies());
  for (const strategy of BUILTIN_MERGE_STRATEGIES) {
    if (taken.has(strategy.name)) {
      const existing = getMergeStrategy(strategy.name) as MergeStrategy & { [OWNER]?: boolean };
      if (existing[OWNER]) continue;
      throw new RegistryError(
        `[@lorakit/merge-strategies] combination type "${strategy.name}" is already registered by another package; registered: ${[...taken].join(', ')}`,
      );
    }
    registerMergeStrategy(strategy);
  }
}
