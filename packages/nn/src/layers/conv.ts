import { type ConvOptions, conv, kaimingUniform, rand, type Tensor, zeros } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

/** Options of the convolution layers (PyTorch's arguments; a number applies to every spatial dim). */
export interface ConvLayerOptions {
  readonly stride?: number | readonly number[];
  readonly padding?: number | readonly number[] | 'valid' | 'same';
  readonly dilation?: number | readonly number[];
  readonly groups?: number;
  readonly bias?: boolean;
  readonly init?: boolean;
}

function perDim(value: number | readonly number[], nd: number): number[] {
  return typeof value === 'number' ? new Array<number>(nd).fill(value) : [...value];
}

/** N-d convolution with PyTorch's layout [out, in/groups, ...kernel] and initialization. */
export class ConvNd extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number[];
  readonly stride: number[];
  readonly padding: number[] | 'valid' | 'same';
  readonly dilation: number[];
  readonly groups: number;

  constructor(
    readonly nd: number,
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvLayerOptions = {},
  ) {
    super();
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new ModuleError(
        `[Conv${nd}d] groups ${groups} must divide inChannels ${inChannels} and outChannels ${outChannels}`,
      );
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = perDim(kernelSize, nd);
    this.stride = perDim(options.stride ?? 1, nd);
    this.padding = typeof options.padding === 'string' ? options.padding : perDim(options.padding ?? 0, nd);
    this.dilation = perDim(options.dilation ?? 1, nd);
    this.groups = groups;
    const shape = [outChannels, inChannels / groups, ...this.kernelSize];
    const fanIn = (inChannels / groups) * this.kernelSize.reduce((a, b) => a * b, 1);
    const init = options.init ?? true;
    this.registerParameter(
      'weight',
      new Parameter(init ? kaimingUniform(shape, { a: Math.sqrt(5), fanIn }) : zeros(shape)),
    );
    const bound = 1 / Math.sqrt(fanIn);
    this.registerParameter(
      'bias',
      options.bias === false
        ? null
        : new Parameter(init ? rand([outChannels], { low: -bound, high: bound }) : zeros([outChannels])),
    );
  }

  get weight(): Parameter {
    return this.param('weight')!;
  }
  get bias(): Parameter | null {
    return this.param('bias');
  }

  get convOptions(): ConvOptions {
    return { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
  }

  forward(x: Tensor): Tensor {
    return conv(x, this.weight, this.bias, this.convOptions, this.nd);
  }
}

/** 1-d convolution over [N, C, L] (torch.nn.Conv1d). */
export class Conv1d extends ConvNd {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvLayerOptions = {},
  ) {
    super(1, inChannels, outChannels, kernelSize, options);
  }
}

/** 2-d convolution over [N, C, H, W] (torch.nn.Conv2d). */
export class Conv2d extends ConvNd {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvLayerOptions = {},
  ) {
    super(2, inChannels, outChannels, kernelSize, options);
  }
}

/** 3-d convolution over [N, C, D, H, W] (torch.nn.Conv3d). */
export class Conv3d extends ConvNd {
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly number[],
    options: ConvLayerOptions = {},
  ) {
    super(3, inChannels, outChannels, kernelSize, options);
  }
}
