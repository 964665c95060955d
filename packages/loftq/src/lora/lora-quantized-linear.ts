import { LoraLinear } from '@lorakit/lora';
import type { QuantizedLinear } from '../layers/quantized-linear.js';

/**
 * LoRA on a quantized linear (PEFT's `lora.Linear4bit` / `lora.Linear8bitLt`): the forward pass is
 * LoRA's, on top of the dequantizing base layer. Merging dequantizes, adds the delta and requantizes —
 * lossy, so each merge and unmerge reports PEFT's warning through the model's warnings.
 */
export class LoraQuantizedLinear extends LoraLinear {
  constructor(
    baseLayer: QuantizedLinear,
    private readonly warn: (message: string) => void,
  ) {
    super(baseLayer, false);
  }

  get quantizedBase(): QuantizedLinear {
    return this.baseLayer as QuantizedLinear;
  }

  override merge(options: { safeMerge?: boolean; adapterNames?: readonly string[] } = {}): void {
    const names = (options.adapterNames ?? this.activeAdapters).filter(
      (a) => !this.mergedAdapters.includes(a) && this.hasAdapter(a),
    );
    for (const _ of names) {
      this.warn(
        `Merge lora module to ${this.quantizedBase.bits}-bit linear may get different generations due to rounding errors.`,
      );
    }
    super.merge(options);
  }

  override unmerge(): void {
    for (const adapter of this.mergedAdapters) {
      if (!this.hasAdapter(adapter)) continue;
      this.warn(
        `Unmerge lora module to ${this.quantizedBase.bits}-bit linear may get different generations due to rounding errors.`,
      );
    }
    super.unmerge();
  }
}
