import { type AnyModule, Conv1D, Embedding, Linear, Module, Parameter } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';

/** A model with one target module, `proj` (the references' `Holder`). */
export class Holder extends Module {
  constructor(proj: AnyModule) {
    super();
    this.registerModule('proj', proj);
  }
  forward(x: Tensor): Tensor {
    return this.child('proj').call(x);
  }
}

/** A Linear (or GPT-2 Conv1D, weight [in, out]) holding `weight` as stored. */
export function linearWith(weight: Tensor, kind: 'linear' | 'conv1d' = 'linear'): AnyModule {
  const [rows, columns] = weight.shape as [number, number];
  const module =
    kind === 'linear'
      ? new Linear(columns, rows, { bias: false })
      : new Conv1D(columns, rows, { init: false });
  module.registerParameter('weight', new Parameter(weight.clone()));
  return module;
}

/** Two linear layers, an embedding and a conv-free stack, for registry and fallback tests. */
export class Mixed extends Module {
  constructor() {
    super();
    this.registerModule('embed', new Embedding(20, 8));
    this.registerModule('q_proj', new Linear(8, 8));
    this.registerModule('v_proj', new Linear(8, 6));
  }
  forward(x: Tensor): Tensor {
    const h = this.child('embed').call(x);
    return this.child('v_proj').call(this.child('q_proj').call(h));
  }
}
