import { type AnyModule, type Embedding, ModuleDict, Parameter } from '@lorakit/nn';
import { embedding, type Tensor, where, zeros } from '@lorakit/tensor';
import { AdapterError } from '../errors.js';
import { initializeAdapter } from '../inits/init-registry.js';
import { resolveVariant } from '../variants/variant.js';
import { BASE_ADAPTER, currentAdapterNames } from './adapter-context.js';
import { type AdapterSpec, LoraLayer, ParameterDict } from './lora-layer.js';
import { checkMixedBatch, rowMask } from './lora-linear.js';

/**
 * LoRA on an embedding: `y = E[x] + s · (Aᵀ)[x] · Bᵀ` with A [r, vocab] and B [dim, r] stored as raw
 * parameters `lora_embedding_A.<adapter>` / `lora_embedding_B.<adapter>`. No dropout, as PEFT.
 */
export class LoraEmbedding extends LoraLayer {
  readonly kind = 'embedding' as const;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;

  constructor(baseLayer: AnyModule) {
    super(baseLayer);
    const weight = baseLayer.param('weight')!;
    this.numEmbeddings = weight.shape[0]!;
    this.embeddingDim = weight.shape[1]!;
    this.registerModule('lora_embedding_A', new ParameterDict());
    this.registerModule('lora_embedding_B', new ParameterDict());
    this.registerModule('lora_magnitude_vector', new ModuleDict());
  }

  adapterNames(): string[] {
    return this.child('lora_embedding_A')
      .ownParameters()
      .map(([name]) => name);
  }

  embeddingA(adapter: string): Parameter {
    return this.child('lora_embedding_A').param(adapter)!;
  }

  embeddingB(adapter: string): Parameter {
    return this.child('lora_embedding_B').param(adapter)!;
  }

  updateLayer(spec: AdapterSpec): void {
    if (spec.config.loraBias) throw new AdapterError('[lora] lora_bias=True is not supported for Embedding.');
    this.recordAdapter(spec);
    this.setDropout(spec.name, spec.config.loraDropout);
    this.child('lora_embedding_A').registerParameter(
      spec.name,
      new Parameter(zeros([spec.r, this.numEmbeddings])),
    );
    this.child('lora_embedding_B').registerParameter(
      spec.name,
      new Parameter(zeros([this.embeddingDim, spec.r])),
    );
    const variant = resolveVariant(spec.config, this.kind);
    if (variant) this.variants.set(spec.name, variant);
    else this.variants.delete(spec.name);
    initializeAdapter(this, spec);
    variant?.initialize?.(this, spec.name);
  }

  protected removeAdapterTensors(adapter: string): void {
    for (const container of ['lora_embedding_A', 'lora_embedding_B', 'lora_magnitude_vector']) {
      this.child(container).removeParameter(adapter);
      if (this.child(container).hasChild(adapter)) this.child(container).removeChild(adapter);
    }
  }

  factorParameters(adapter: string): { a: Parameter; b: Parameter; bBias: Parameter | null } {
    return { a: this.embeddingA(adapter), b: this.embeddingB(adapter), bBias: null };
  }

  adapterParameters(adapter: string): Parameter[] {
    const out: Parameter[] = [];
    for (const container of ['lora_embedding_A', 'lora_embedding_B']) {
      const p = this.child(container)
        .ownParameters()
        .find(([n]) => n === adapter)?.[1];
      if (p) out.push(p);
    }
    const magnitude = this.child('lora_magnitude_vector');
    if (magnitude.hasChild(adapter)) out.push(...magnitude.child(adapter).parameters());
    return out;
  }

  /** B·A (dim, vocab), unscaled. */
  loraProduct(adapter: string): Tensor {
    return this.embeddingB(adapter).matmul(this.embeddingA(adapter));
  }

  deltaWeight(adapter: string): Tensor {
    return this.loraProduct(adapter).T.mul(this.scaling.get(adapter)!).contiguous();
  }

  /** s · (Aᵀ)[x] · Bᵀ. */
  loraTerm(adapter: string, ids: Tensor): Tensor {
    return embedding(ids, this.embeddingA(adapter).T)
      .matmul(this.embeddingB(adapter).T)
      .mul(this.scaling.get(adapter)!);
  }

  forward(ids: Tensor): Tensor {
    const base = this.baseLayer as Embedding;
    if (this.disabled) {
      if (this.merged) this.unmerge();
      return base.call(ids);
    }
    const rowAdapters = currentAdapterNames();
    if (rowAdapters) {
      checkMixedBatch(this, ids, rowAdapters);
      let result: Tensor = base.call(ids);
      for (const adapter of new Set(rowAdapters)) {
        if (adapter === BASE_ADAPTER || !this.hasAdapter(adapter)) continue;
        result = where(
          rowMask(rowAdapters, adapter, result),
          result.add(this.loraTerm(adapter, ids)),
          result,
        );
      }
      return result;
    }
    if (this.merged) return base.call(ids);
    let result: Tensor = base.call(ids);
    for (const adapter of this.activeAdapters) {
      if (!this.hasAdapter(adapter)) continue;
      const variant = this.variants.get(adapter);
      result = variant
        ? variant.forward(this, adapter, ids, result)
        : result.add(this.loraTerm(adapter, ids));
    }
    return result;
  }
}
