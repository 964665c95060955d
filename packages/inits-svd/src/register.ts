import { type InitStrategy, registerInitStrategy } from '@lorakit/lora';
import { cordaStrategy } from './inits/corda.js';
import { oloraStrategy } from './inits/olora.js';
import { orthogonalStrategy } from './inits/orthogonal.js';
import { pissaStrategy } from './inits/pissa.js';
import { pissaNiterStrategy } from './inits/pissa-niter.js';

/**
 * The strategies this package provides, in registration order. `pissa` comes before `pissa_niter` so
 * that the exact value `'pissa'` selects the full SVD and every other `pissa…` value the parser.
 */
export const SVD_INIT_STRATEGIES: readonly InitStrategy[] = [
  pissaStrategy,
  pissaNiterStrategy,
  oloraStrategy,
  cordaStrategy,
  orthogonalStrategy,
];

/**
 * Registers the strategies with @lorakit/lora's init registry; importing the package does this. A name
 * that is already registered throws (the registry's rule), naming the registered ones.
 */
export function registerSvdInits(): void {
  for (const strategy of SVD_INIT_STRATEGIES) registerInitStrategy(strategy);
}
