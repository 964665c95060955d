import { registerKind } from '../run.js';
import { runConversion } from './conversion.js';
import { runEva } from './eva.js';
import { runForward, runMultiAdapter } from './forward.js';
import { runInit } from './init.js';
import { runLayers } from './layers.js';
import { runMerge } from './merge.js';
import { runTrain } from './train.js';

/** Registers every kind this runner supports. */
export async function registerAllKinds(): Promise<void> {
  registerKind('layers', runLayers);
  registerKind('forward', runForward);
  registerKind('multi_adapter', runMultiAdapter);
  registerKind('init', runInit);
  registerKind('train', runTrain);
  registerKind('conversion', runConversion);
  registerKind('eva', runEva);
  registerKind('merge', runMerge);
}
