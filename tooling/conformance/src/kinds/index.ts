import { registerKind } from '../run.js';
import { runLayers } from './layers.js';

/** Registers every kind this runner supports. */
export async function registerAllKinds(): Promise<void> {
  registerKind('layers', runLayers);
}
