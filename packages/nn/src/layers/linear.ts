import { kaimingUniform, linear, rand, randn, type Tensor, zeros } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

/** Options of {@link Linear}. */
export interface LinearOptions {
  readonly bias?: boolean;
  /** Skip random initialization (weights start at zero; for modules about to be loaded). */
  readonly init?: boolean;
}

function checkFeatures(layer: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ModuleError(`[${layer}] ${name} must be a positive integer, received ${value}`);
  }
}

/**
 * `y = x·Wᵀ + b` with PyTorch's layout (weight [out, in]) and initialization
 * (kaiming_uniform(a=√5) for W, U(±1/√in) for b).
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    checkFeatures('Linear', 'inFeatures', inFeatures);
    checkFeatures('Linear', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const init = options.init ?? true;
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter(
      'weight',
      new Parameter(
        init
          ? kaimingUniform([outFeatures, inFeatures], { a: Math.sqrt(5) })
          : zeros([outFeatures, inFeatures]),
      ),
    );
    this.registerParameter(
      'bias',
      options.bias === false
        ? null
        : new Parameter(init ? rand([outFeatures], { low: -bound, high: bound }) : zeros([outFeatures])),
    );
  }

  get weight(): Parameter {
    return this.param('weight')!;
  }
  get bias(): Parameter | null {
    return this.param('bias');
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * GPT-2's `Conv1D`: a linear layer whose weight is stored [in, out] (`y = x·W + b`). Named `nf`/`nx` in
 * transformers: nf = out features, nx = in features.
 */
export class Conv1D extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(outFeatures: number, inFeatures: number, options: { init?: boolean } = {}) {
    super();
    checkFeatures('Conv1D', 'outFeatures', outFeatures);
    checkFeatures('Conv1D', 'inFeatures', inFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const init = options.init ?? true;
    // transformers initializes Conv1D weights with N(0, 0.02) and zero bias.
    const weight = init ? randn([inFeatures, outFeatures], { std: 0.02 }) : zeros([inFeatures, outFeatures]);
    this.registerParameter('weight', new Parameter(weight));
    this.registerParameter('bias', new Parameter(zeros([outFeatures])));
  }

  get weight(): Parameter {
    return this.param('weight')!;
  }
  get bias(): Parameter | null {
    return this.param('bias');
  }

  forward(x: Tensor): Tensor {
    const y = x.matmul(this.weight);
    return this.bias ? y.add(this.bias) : y;
  }
}
