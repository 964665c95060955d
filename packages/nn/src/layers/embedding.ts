import { embedding, randn, type Tensor, zeros } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

/** A lookup table [numEmbeddings, dim], initialized N(0, 1) like PyTorch. */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | undefined;

  constructor(
    numEmbeddings: number,
    embeddingDim: number,
    options: { paddingIdx?: number; init?: boolean } = {},
  ) {
    super();
    for (const [name, v] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new ModuleError(`[Embedding] ${name} must be a positive integer, received ${v}`);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.paddingIdx = options.paddingIdx;
    let weight =
      options.init === false ? zeros([numEmbeddings, embeddingDim]) : randn([numEmbeddings, embeddingDim]);
    if (options.paddingIdx !== undefined && options.init !== false) {
      weight.select(0, options.paddingIdx).zero();
      weight = weight.detach();
    }
    this.registerParameter('weight', new Parameter(weight));
  }

  get weight(): Parameter {
    return this.param('weight')!;
  }

  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}
