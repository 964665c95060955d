import { type AnyModule, ModuleDict, Parameter } from '@lorakit/nn';
import { embedding, type Tensor, zeros } from '@lorakit/tensor';
import { AdapterError } from '../errors.js';
import { type AdapterSpec, LoraLayer, ParameterDict } from './lora-layer.js';

/**
 * LoRA on an embedding: `y = E[x] + s · (Aᵀ)[x] · Bᵀ` with A [r, vocab] and B [dim, r] stored as raw
 * parameters `lora_embedding_A.<adapter>` / `lora_embedding_B.<adapter>`. No dropout, as PEFT.
 */
export class LoraEmbedding extends LoraLayer {
  readonly kind = 'embedding' as const;
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  protected readonly adapterContainers = [
    'lora_embedding_A',
    'lora_embedding_B',
    'lora_magnitude_vector',
  ] as const;

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
    this.addAdapter(spec, () => {
      this.child('lora_embedding_A').registerParameter(
        spec.name,
        new Parameter(zeros([spec.r, this.numEmbeddings])),
      );
      this.child('lora_embedding_B').registerParameter(
        spec.name,
        new Parameter(zeros([this.embeddingDim, spec.r])),
      );
    });
  }

  factorParameters(adapter: string): { a: Parameter; b: Parameter; bBias: Parameter | null } {
    return { a: this.embeddingA(adapter), b: this.embeddingB(adapter), bBias: null };
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
}
