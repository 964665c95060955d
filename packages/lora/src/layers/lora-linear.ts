import { type AnyModule, Linear, ModuleDict } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { FactorModuleLoraLayer } from './factor-layer.js';
import type { AdapterSpec } from './lora-layer.js';

/** Input and output features of a Linear-like base layer (nn.Linear, GPT-2 Conv1D, quantized linears). */
export function linearFeatures(base: AnyModule): { inFeatures: number; outFeatures: number } {
  const b = base as unknown as { inFeatures?: number; outFeatures?: number };
  if (b.inFeatures !== undefined && b.outFeatures !== undefined)
    return { inFeatures: b.inFeatures, outFeatures: b.outFeatures };
  const w = base.param('weight')!;
  return { inFeatures: w.shape[1]!, outFeatures: w.shape[0]! };
}

/**
 * LoRA on a linear layer: `y = base(x) + s · B(A(dropout(x)))` (+ `s·b_B` with lora_bias). With
 * `fanInFanOut` the base weight is stored [in, out] (GPT-2's Conv1D); only ΔW's layout changes.
 */
export class LoraLinear extends FactorModuleLoraLayer<Linear> {
  readonly kind = 'linear' as const;
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    baseLayer: AnyModule,
    readonly fanInFanOut: boolean,
  ) {
    super(baseLayer);
    const { inFeatures, outFeatures } = linearFeatures(baseLayer);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    for (const name of this.adapterContainers) this.registerModule(name, new ModuleDict());
  }

  updateLayer(spec: AdapterSpec): void {
    this.addAdapter(spec, () =>
      this.setFactors(
        spec.name,
        new Linear(this.inFeatures, spec.r, { bias: false, init: false }),
        new Linear(spec.r, this.outFeatures, { bias: spec.config.loraBias, init: false }),
      ),
    );
  }

  /** B·A in Linear layout (out, in), unscaled. */
  loraProduct(adapter: string): Tensor {
    return this.loraB(adapter).weight.matmul(this.loraA(adapter).weight);
  }

  deltaWeight(adapter: string): Tensor {
    const delta = this.loraProduct(adapter).mul(this.scaling.get(adapter)!);
    return this.fanInFanOut ? delta.T.contiguous() : delta;
  }

  /** The base weight in Linear layout (out, in). */
  linearWeight(): Tensor {
    const w = this.baseWeight();
    return this.fanInFanOut ? w.T : w;
  }
}
