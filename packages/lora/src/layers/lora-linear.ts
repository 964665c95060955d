import { type AnyModule, Conv1D, Identity, Linear, ModuleDict } from '@lorakit/nn';
import { loraLinear, type Tensor } from '@lorakit/tensor';
import { currentAdapterNames } from './adapter-context.js';
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

  /**
   * The common case — one active vanilla adapter, no dropout at work, a plain Linear/Conv1D base — runs
   * as one fused LoRA linear (`x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ`, x read once on backends with the fused kernel);
   * so does a variant with a `fusedForward` (DoRA), given that op. Everything else takes the general
   * path of {@link LoraLayer.forward}.
   */
  override forward(x: Tensor): Tensor {
    if (!this.disabled && !this.merged && currentAdapterNames() === undefined) {
      const active = this.activeAdapters.filter((a) => this.hasAdapter(a));
      if (active.length === 1 && this.canFuse(active[0]!)) {
        const adapter = active[0]!;
        const base = this.baseLayer;
        const weight = base.param('weight')!;
        const fused = (bias: Tensor | null) =>
          loraLinear(
            x,
            this.fanInFanOut ? weight.T : weight,
            bias,
            this.loraA(adapter).weight,
            this.loraB(adapter).weight,
            this.scaling.get(adapter)!,
          );
        const variant = this.variants.get(adapter);
        return variant?.fusedForward
          ? variant.fusedForward(this, adapter, x, fused)
          : fused(base.param('bias'));
      }
    }
    return super.forward(x);
  }

  private canFuse(adapter: string): boolean {
    const dropout = this.dropoutFor(adapter);
    const base = this.baseLayer;
    const variant = this.variants.get(adapter);
    return (
      (!variant || variant.fusedForward !== undefined) &&
      (dropout instanceof Identity || !dropout.training) &&
      this.loraB(adapter).bias === null &&
      (base instanceof Linear || base instanceof Conv1D) &&
      !base.hasForwardHooks
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
