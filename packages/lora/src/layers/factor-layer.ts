import type { AnyModule, ModuleDict, Parameter } from '@lorakit/nn';
import type { Tensor } from '@lorakit/tensor';
import { LoraLayer } from './lora-layer.js';

/** A factor that is a module with `weight` and optional `bias` (nn.Linear or a conv). */
interface FactorModule extends AnyModule {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
}

/**
 * LoRA layers whose factors are modules (`lora_A.<adapter>`, `lora_B.<adapter>`): Linear (incl. GPT-2's
 * Conv1D) and convolutions. The LoRA term is `s · B(A(dropout(x)))`, lora_B's bias included and scaled.
 */
export abstract class FactorModuleLoraLayer<F extends FactorModule> extends LoraLayer {
  protected readonly adapterContainers = ['lora_A', 'lora_B', 'lora_magnitude_vector'] as const;

  adapterNames(): string[] {
    return this.child<ModuleDict>('lora_A').keys();
  }

  loraA(adapter: string): F {
    return this.child<ModuleDict<F>>('lora_A').get(adapter);
  }

  loraB(adapter: string): F {
    return this.child<ModuleDict<F>>('lora_B').get(adapter);
  }

  protected setFactors(adapter: string, a: F, b: F): void {
    this.child<ModuleDict<F>>('lora_A').set(adapter, a);
    this.child<ModuleDict<F>>('lora_B').set(adapter, b);
  }

  factorParameters(adapter: string): { a: Parameter; b: Parameter; bBias: Parameter | null } {
    return { a: this.loraA(adapter).weight, b: this.loraB(adapter).weight, bBias: this.loraB(adapter).bias };
  }

  protected override loraBBias(adapter: string): Parameter | null {
    return this.loraB(adapter).bias;
  }

  loraTerm(adapter: string, x: Tensor): Tensor {
    const hidden = this.dropout(adapter).call(x);
    return this.loraB(adapter).call(this.loraA(adapter).call(hidden)).mul(this.scaling.get(adapter)!);
  }

  /** The adapter's dropout module (variants recompute the base output on the dropped input). */
  dropoutFor(adapter: string): AnyModule {
    return this.dropout(adapter);
  }
}
