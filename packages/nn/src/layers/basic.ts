import { dropout, layerNorm, ones, rmsNorm, type Tensor, zeros } from '@lorakit/tensor';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

/** LayerNorm over the trailing `normalizedShape` dims, with elementwise affine weight and bias. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  constructor(
    normalizedShape: number | readonly number[],
    readonly eps = 1e-5,
    options: { elementwiseAffine?: boolean; bias?: boolean } = {},
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    const affine = options.elementwiseAffine ?? true;
    this.registerParameter('weight', affine ? new Parameter(ones(this.normalizedShape)) : null);
    this.registerParameter(
      'bias',
      affine && options.bias !== false ? new Parameter(zeros(this.normalizedShape)) : null,
    );
  }
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.param('weight'), this.param('bias'), this.eps);
  }
}

/** RMSNorm over the last dim (Llama's `LlamaRMSNorm`: computed in float32, weight applied after). */
export class RMSNorm extends Module {
  constructor(
    readonly hiddenSize: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.registerParameter('weight', new Parameter(ones([hiddenSize])));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.param('weight'), this.eps);
  }
}

/** Inverted dropout, active only in training mode. */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}

/** Returns its input unchanged (a placeholder where a layer is optional). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

type Activation = 'relu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu' | 'swish' | 'tanh' | 'sigmoid';

/** Activation functions by their transformers `hidden_act` names. */
export const ACTIVATIONS: Readonly<Record<Activation, (x: Tensor) => Tensor>> = {
  relu: (x) => x.relu(),
  gelu: (x) => x.gelu(),
  gelu_new: (x) => x.gelu('tanh'),
  gelu_pytorch_tanh: (x) => x.gelu('tanh'),
  silu: (x) => x.silu(),
  swish: (x) => x.silu(),
  tanh: (x) => x.tanh(),
  sigmoid: (x) => x.sigmoid(),
};

/** An activation function as a module, chosen by its transformers `hidden_act` name. */
export class ActivationLayer extends Module {
  readonly fn: (x: Tensor) => Tensor;
  constructor(readonly kind: Activation) {
    super();
    this.fn = ACTIVATIONS[kind];
  }
  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
