// The tiny MLP of test-data/generate.py (Linear → GELU → LayerNorm → Linear) under the same names.
import type { Tensor } from '@lorakit/tensor';
import { ActivationLayer, LayerNorm } from '../src/layers/basic.js';
import { Linear } from '../src/layers/linear.js';
import { Module } from '../src/module.js';
import { load, namesUnder, trainingFile } from './reference-data.js';

export class Mlp extends Module {
  constructor() {
    super();
    this.registerModule('fc1', new Linear(8, 16, { init: false }));
    this.registerModule('act', new ActivationLayer('gelu'));
    this.registerModule('norm', new LayerNorm(16));
    this.registerModule('fc2', new Linear(16, 5, { init: false }));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const [, m] of this.namedChildren()) h = (m as Module).call(h);
    return h;
  }
}

/** The MLP with generate.py's initial weights, on the current default backend. */
export function referenceMlp(): Mlp {
  const model = new Mlp();
  const names = namesUnder(trainingFile, 'mlp.init.');
  model.loadStateDict(new Map(names.map((n) => [n, load(trainingFile, `mlp.init.${n}`)])));
  return model;
}

/** generate.py's three batches: inputs [6, 8] and int64 targets [6] (one is -100). */
export function referenceBatches(): { x: Tensor; y: Tensor }[] {
  return [0, 1, 2].map((i) => ({
    x: load(trainingFile, `batch.${i}.x`),
    y: load(trainingFile, `batch.${i}.y`),
  }));
}
