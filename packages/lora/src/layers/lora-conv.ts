import { Conv1d, Conv2d, Conv3d, type ConvNd, ModuleDict, type Parameter } from '@lorakit/nn';
import { type Tensor, where } from '@lorakit/tensor';
import { AdapterError, MergeError } from '../errors.js';
import { initializeAdapter } from '../inits/init-registry.js';
import { resolveVariant } from '../variants/variant.js';
import { BASE_ADAPTER, currentAdapterNames } from './adapter-context.js';
import { type AdapterSpec, LoraLayer } from './lora-layer.js';
import { checkMixedBatch, rowMask } from './lora-linear.js';

const CONV_CLASSES = { 1: Conv1d, 2: Conv2d, 3: Conv3d } as const;

/**
 * LoRA on a convolution: lora_A is a conv with the base kernel, stride and padding (not its dilation or
 * groups, as PEFT), lora_B a 1×…×1 conv with the base groups. `y = base(x) + s · B(A(dropout(x)))`.
 */
export class LoraConv extends LoraLayer {
  readonly kind = 'conv' as const;

  constructor(baseLayer: ConvNd) {
    super(baseLayer);
    this.registerModule('lora_A', new ModuleDict<ConvNd>());
    this.registerModule('lora_B', new ModuleDict<ConvNd>());
    this.registerModule('lora_magnitude_vector', new ModuleDict());
  }

  get base(): ConvNd {
    return this.baseLayer as ConvNd;
  }

  adapterNames(): string[] {
    return this.child<ModuleDict>('lora_A').keys();
  }

  loraA(adapter: string): ConvNd {
    return this.child<ModuleDict<ConvNd>>('lora_A').get(adapter);
  }

  loraB(adapter: string): ConvNd {
    return this.child<ModuleDict<ConvNd>>('lora_B').get(adapter);
  }

  updateLayer(spec: AdapterSpec): void {
    const base = this.base;
    if (base.groups > 1 && spec.r % base.groups !== 0) {
      throw new AdapterError(
        `[lora] Targeting a ${base.constructor.name} with groups=${base.groups} and rank ${spec.r}. Currently, support is limited to conv layers where the rank is divisible by groups. Either choose a different rank or do not target this specific layer.`,
      );
    }
    this.recordAdapter(spec);
    this.setDropout(spec.name, spec.config.loraDropout);
    const Conv = CONV_CLASSES[base.nd as 1 | 2 | 3];
    this.child<ModuleDict<ConvNd>>('lora_A').set(
      spec.name,
      new Conv(base.inChannels, spec.r, base.kernelSize, {
        stride: base.stride,
        padding: base.padding,
        bias: false,
        init: false,
      }),
    );
    this.child<ModuleDict<ConvNd>>('lora_B').set(
      spec.name,
      new Conv(spec.r, base.outChannels, new Array<number>(base.nd).fill(1), {
        groups: base.groups,
        bias: spec.config.loraBias,
        init: false,
      }),
    );
    const variant = resolveVariant(spec.config, this.kind);
    if (variant) this.variants.set(spec.name, variant);
    else this.variants.delete(spec.name);
    initializeAdapter(this, spec);
    variant?.initialize?.(this, spec.name);
  }

  protected removeAdapterTensors(adapter: string): void {
    for (const container of ['lora_A', 'lora_B', 'lora_magnitude_vector']) {
      const dict = this.child<ModuleDict>(container);
      if (dict.has(adapter)) dict.delete(adapter);
    }
  }

  factorParameters(adapter: string): { a: Parameter; b: Parameter; bBias: Parameter | null } {
    return { a: this.loraA(adapter).weight, b: this.loraB(adapter).weight, bBias: this.loraB(adapter).bias };
  }

  adapterParameters(adapter: string): Parameter[] {
    const out: Parameter[] = [];
    for (const container of ['lora_A', 'lora_B', 'lora_magnitude_vector']) {
      const dict = this.child<ModuleDict>(container);
      if (dict.has(adapter)) out.push(...dict.get(adapter).parameters());
    }
    return out;
  }

  protected override loraBBias(adapter: string): Parameter | null {
    return this.loraB(adapter).bias;
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

  loraTerm(adapter: string, x: Tensor): Tensor {
    const hidden = this.dropout(adapter).call(x);
    return this.loraB(adapter).call(this.loraA(adapter).call(hidden)).mul(this.scaling.get(adapter)!);
  }

  dropoutFor(adapter: string) {
    return this.dropout(adapter);
  }

  forward(x: Tensor): Tensor {
    const base = this.baseLayer;
    if (this.disabled) {
      if (this.merged) this.unmerge();
      return base.call(x);
    }
    const rowAdapters = currentAdapterNames();
    if (rowAdapters) {
      checkMixedBatch(this, x, rowAdapters);
      let result: Tensor = base.call(x);
      for (const adapter of new Set(rowAdapters)) {
        if (adapter === BASE_ADAPTER || !this.hasAdapter(adapter)) continue;
        result = where(rowMask(rowAdapters, adapter, result), result.add(this.loraTerm(adapter, x)), result);
      }
      return result;
    }
    if (this.merged) return base.call(x);
    let result: Tensor = base.call(x);
    for (const adapter of this.activeAdapters) {
      if (!this.hasAdapter(adapter)) continue;
      const variant = this.variants.get(adapter);
      result = variant ? variant.forward(this, adapter, x, result) : result.add(this.loraTerm(adapter, x));
    }
    return result;
  }
}
