import { embedding, randn, type Tensor, where, zeros } from '@lorakit/tensor';
import { ModuleError } from '../errors.js';
import { Module } from '../module.js';
import { Parameter } from '../parameter.js';

/**
 * A lookup table [numEmbeddings, dim], initialized N(0, 1) like PyTorch. With `paddingIdx` (negative
 * counts from the end) that row starts at zero and, as in PyTorch, receives no gradient.
 */
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
    const pad = options.paddingIdx;
    if (pad !== undefined && (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings)) {
      throw new ModuleError(
        `[Embedding] paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings - 1}], received ${pad}`,
      );
    }
    this.paddingIdx = pad === undefined || pad >= 0 ? pad : numEmbeddings + pad;
    let weight =
      options.init === false ? zeros([numEmbeddings, embeddingDim]) : randn([numEmbeddings, embeddingDim]);
    if (this.paddingIdx !== undefined && options.init !== false) {
      weight.select(0, this.paddingIdx).zero();
      weight = weight.detach();
    }
    this.registerParameter('weight', new Parameter(weight));
  }

  get weight(): Parameter {
    return this.param('weight')!;
  }

  forward(ids: Tensor): Tensor {
    const out = embedding(ids, this.weight);
    if (this.paddingIdx === undefined || !out.requiresGrad) return out;
    // Same values everywhere; at padding positions the detached copy stops the gradient to that row.
    return where(ids.eq(this.paddingIdx).unsqueeze(-1), out.detach(), out);
  }
}
