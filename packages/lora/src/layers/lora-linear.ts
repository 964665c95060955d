import { type AnyModule, Linear, ModuleDict, type Parameter } from '@lorakit/nn';
import { type Tensor, tensor, where } from '@lorakit/tensor';
import { AdapterError } from '../errors.js';
import { initializeAdapter } from '../inits/init-registry.js';
import { resolveVariant } from '../variants/variant.js';
import { BASE_ADAPTER, currentAdapterNames } from './adapter-context.js';
import { type AdapterSpec, LoraLayer } from './lora-layer.js';

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
export class LoraLinear extends LoraLayer {
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
    this.registerModule('lora_A', new ModuleDict<Linear>());
    this.registerModule('lora_B', new ModuleDict<Linear>());
    this.registerModule('lora_magnitude_vector', new ModuleDict());
  }

  adapterNames(): string[] {
    return this.child<ModuleDict>('lora_A').keys();
  }

  loraA(adapter: string): Linear {
    return this.child<ModuleDict<Linear>>('lora_A').get(adapter);
  }

  loraB(adapter: string): Linear {
    return this.child<ModuleDict<Linear>>('lora_B').get(adapter);
  }

  updateLayer(spec: AdapterSpec): void {
    this.recordAdapter(spec);
    this.setDropout(spec.name, spec.config.loraDropout);
    this.child<ModuleDict<Linear>>('lora_A').set(
      spec.name,
      new Linear(this.inFeatures, spec.r, { bias: false, init: false }),
    );
    this.child<ModuleDict<Linear>>('lora_B').set(
      spec.name,
      new Linear(spec.r, this.outFeatures, { bias: spec.config.loraBias, init: false }),
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

  /** s · B(A(dropout(x))) for one adapter (the lora_B bias included, scaled). */
  loraTerm(adapter: string, x: Tensor): Tensor {
    const hidden = this.dropout(adapter).call(x);
    return this.loraB(adapter).call(this.loraA(adapter).call(hidden)).mul(this.scaling.get(adapter)!);
  }

  dropoutFor(adapter: string): AnyModule {
    return this.dropout(adapter);
  }

  forward(x: Tensor): Tensor {
    const base = this.baseLayer;
    if (this.disabled) {
      if (this.merged) this.unmerge();
      return base.call(x);
    }
    const rowAdapters = currentAdapterNames();
    if (rowAdapters) return this.mixedBatchForward(x, rowAdapters);
    if (this.merged) return base.call(x);
    let result: Tensor = base.call(x);
    for (const adapter of this.activeAdapters) {
      if (!this.hasAdapter(adapter)) continue;
      const variant = this.variants.get(adapter);
      result = variant ? variant.forward(this, adapter, x, result) : result.add(this.loraTerm(adapter, x));
    }
    return result;
  }

  /** PEFT's `_mixed_batch_forward`: each row gets the adapter named for it (or none). */
  protected mixedBatchForward(x: Tensor, rowAdapters: readonly string[]): Tensor {
    checkMixedBatch(this, x, rowAdapters);
    let result: Tensor = this.baseLayer.call(x);
    for (const adapter of new Set(rowAdapters)) {
      if (adapter === BASE_ADAPTER || !this.hasAdapter(adapter)) continue;
      result = where(rowMask(rowAdapters, adapter, x), result.add(this.loraTerm(adapter, x)), result);
    }
    return result;
  }
}

/** A bool tensor [batch, 1, …, 1] selecting the rows that use `adapter`. */
export function rowMask(rowAdapters: readonly string[], adapter: string, x: Tensor): Tensor {
  return tensor(
    rowAdapters.map((a) => a === adapter),
    { backend: x.backend.name, shape: [rowAdapters.length, ...new Array<number>(x.rank - 1).fill(1)] },
  );
}

/** PEFT's checks for mixed batches at layer level. */
export function checkMixedBatch(layer: LoraLayer, x: Tensor, rowAdapters: readonly string[]): void {
  if (x.shape[0] !== rowAdapters.length) {
    throw new AdapterError(
      `[lora] Length of \`adapter_names\` should be the same as the number of inputs, but got ${rowAdapters.length} and ${x.shape[0]} respectively.`,
    );
  }
  if (layer.merged) {
    throw new AdapterError(
      '[lora] Cannot pass `adapter_names` when there are merged adapters, please call `unmerge_adapter` first.',
    );
  }
  for (const adapter of new Set(rowAdapters)) {
    if (layer.variants.get(adapter)?.name === 'dora') {
      throw new AdapterError('[lora] Cannot pass `adapter_names` when DoRA is enabled.');
    }
  }
}
