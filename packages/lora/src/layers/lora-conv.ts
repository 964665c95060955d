import { Conv1d, Conv2d, Conv3d, type ConvNd, ModuleDict } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { AdapterError, MergeError } from '../errors.js';
import { FactorModuleLoraLayer } from './factor-layer.js';
import type { AdapterSpec } from './lora-layer.js';

const CONV_CLASSES = { 1: Conv1d, 2: Conv2d, 3: Conv3d } as const;

/**
 * LoRA on a convolution: lora_A is a conv with the base kernel, stride and padding (not its dilation or
 * groups, as PEFT), lora_B a 1×…×1 conv with the base groups. `y = base(x) + s · B(A(dropout(x)))`.
 */
export class LoraConv extends FactorModuleLoraLayer<ConvNd> {
  readonly kind = 'conv' as const;

  constructor(baseLayer: ConvNd) {
    super(baseLayer);
    for (const name of this.adapterContainers) this.registerModule(name, new ModuleDict());
  }

  get base(): ConvNd {
    return this.baseLayer as ConvNd;
  }

  updateLayer(spec: AdapterSpec): void {
    const base = this.base;
    if (base.groups > 1 && spec.r % base.groups !== 0) {
      throw new AdapterError(
        `[lora] Targeting a ${base.constructor.name} with groups=${base.groups} and rank ${spec.r}. Currently, support is limited to conv layers where the rank is divisible by groups. Either choose a different rank or do not target this specific layer.`,
      );
    }
    const Conv = CONV_CLASSES[base.nd as 1 | 2 | 3];
    this.addAdapter(spec, () =>
      this.setFactors(
        spec.name,
        new Conv(base.inChannels, spec.r, base.kernelSize, {
          stride: base.stride,
          padding: base.padding,
          bias: false,
          init: false,
        }),
        new Conv(spec.r, base.outChannels, new Array<number>(base.nd).fill(1), {
          groups: base.groups,
          bias: spec.config.loraBias,
          init: false,
        }),
      ),
    );
  }

  protected override checkMergeable(_adapter: string): void {
    if (this.base.groups > 1)
      throw new MergeError('[lora] Merging is not supported for _ConvNd layers with groups > 1!');
  }

  /** ΔW[o, i, …] = Σ_ρ B[o, ρ] · A[ρ, i, …], unscaled, in the base layout. */
  loraProduct(adapter: string): Tensor {
    const a = this.loraA(adapter).weight;
    const b = this.loraB(adapter).weight;
    const r = a.shape[0]!;
    return b.reshape(b.shape[0]!, r).matmul(a.reshape(r, -1)).reshape(this.base.weight.shape);
  }

  deltaWeight(adapter: string): Tensor {
    return this.loraProduct(adapter).mul(this.scaling.get(adapter)!);
  }
}
