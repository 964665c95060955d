import type { AnyModule } from '@lorakit/nn';
import type { CordaEigens } from './corda-eigens.js';

/**
 * Eigens `preprocessCorda` prepared, per base module (PEFT sets a `module.eigens` attribute). The CorDA
 * init strategy takes them when the layer is wrapped and drops them, as PEFT deletes the attribute.
 */
const prepared = new WeakMap<AnyModule, CordaEigens>();

export function attachCordaEigens(module: AnyModule, eigens: CordaEigens): void {
  prepared.set(module, eigens);
}

/** The eigens prepared for `module`, if any (without removing them). */
export function cordaEigensOf(module: AnyModule): CordaEigens | undefined {
  return prepared.get(module);
}

/** Removes and returns the eigens prepared for `module`. */
export function takeCordaEigens(module: AnyModule): CordaEigens | undefined {
  const eigens = prepared.get(module);
  prepared.delete(module);
  return eigens;
}
