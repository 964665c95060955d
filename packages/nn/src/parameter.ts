import { Tensor, TensorError } from '@lorakit/tensor';

/**
 * A trainable tensor owned by a module: a leaf that requires grad (unless frozen). It shares the
 * storage of the tensor it wraps; optimizers update it in place with `assign`.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    if (!(data instanceof Tensor)) throw new TensorError('[Parameter] data must be a Tensor');
    const leaf = data.isLeaf ? data : data.detach();
    super(leaf.box, leaf.dtype, leaf.shape, leaf.strides, leaf.offset);
    this.requiresGrad =
      requiresGrad &&
      (leaf.dtype === 'float32' ||
        leaf.dtype === 'float64' ||
        leaf.dtype === 'float16' ||
        leaf.dtype === 'bfloat16');
  }
}
