import { Embedding } from '@lorakit/nn';
import { embedding, type Tensor, where } from '@lorakit/tensor';

/**
 * An Embedding whose `paddingIdx` row receives no gradient, as PyTorch's `nn.Embedding(padding_idx=…)`
 * (transformers builds Llama's `embed_tokens` and BERT's `word_embeddings` that way). The forward value
 * is unchanged: padding positions read the row through a detached view, so only gradient flow differs.
 */
export class PaddingEmbedding extends Embedding {
  override forward(ids: Tensor): Tensor {
    const looked = embedding(ids, this.weight);
    if (this.paddingIdx === undefined) return looked;
    const paddingRow = this.weight.detach().select(0, this.paddingIdx);
    return where(ids.eq(this.paddingIdx).unsqueeze(-1), paddingRow, looked);
  }
}
