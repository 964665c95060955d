/**
 * The attention softmax kernels of the tensor package's `FusedKernels` for float32: one native pass per
 * row of scores [batch, heads, queries, keys] that scales, adds the bias, applies the causal limit and
 * normalizes (`attentionSoftmax`), and one that turns the probabilities' gradient into the scores'
 * (`attentionSoftmaxBackward`). Rows are split across the thread pool. Scores and gradients come from
 * matrix products and are contiguous; other layouts, and other dtypes, run on the JavaScript references.
 */
import { type Backend, isContiguous, type JsStorage, type View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { checkView, sizeOf } from './layout.js';

type Attention = Required<Pick<Backend<JsStorage>, 'attentionSoftmax' | 'attentionSoftmaxBackward'>>;

const contiguous = (v: View<JsStorage>) => isContiguous(v.shape, v.strides);

export function attentionKernels(native: NativeBinding, js: Backend<JsStorage>): Attention {
  function attentionSoftmax(
    x: View<JsStorage>,
    scale: number,
    bias: View<JsStorage> | null,
    causal: boolean,
  ) {
    const size = sizeOf(x.shape);
    const usable =
      x.dtype === 'float32' &&
      x.shape.length === 4 &&
      size > 0 &&
      contiguous(x) &&
      (!bias || (bias.dtype === 'float32' && (bias.strides[3] === 1 || x.shape[3] === 1)));
    if (!usable) return js.attentionSoftmax!(x, scale, bias, causal);
    checkView('attentionSoftmax', x);
    if (bias) checkView('attentionSoftmax', bias);
    const [batch, heads, queries, keys] = x.shape as [number, number, number, number];
    const out = allocateOutput('float32', size) as Float32Array;
    native.attentionSoftmax(
      batch,
      heads,
      queries,
      keys,
      x.storage as Float32Array,
      x.offset,
      bias ? (bias.storage as Float32Array) : null,
      bias?.offset ?? 0,
      bias?.strides[0] ?? 0,
      bias?.strides[1] ?? 0,
      bias?.strides[2] ?? 0,
      scale,
      causal,
      out,
    );
    return out;
  }

  function attentionSoftmaxBackward(grad: View<JsStorage>, probs: View<JsStorage>, scale: number) {
    const size = sizeOf(probs.shape);
    const keys = probs.shape[probs.shape.length - 1] ?? 1;
    const usable =
      grad.dtype === 'float32' &&
      probs.dtype === 'float32' &&
      probs.shape.length >= 1 &&
      size > 0 &&
      contiguous(grad) &&
      contiguous(probs);
    if (!usable) return js.attentionSoftmaxBackward!(grad, probs, scale);
    checkView('attentionSoftmaxBackward', grad);
    checkView('attentionSoftmaxBackward', probs);
    const out = allocateOutput('float32', size) as Float32Array;
    native.attentionSoftmaxBackward(
      size / keys,
      keys,
      grad.storage as Float32Array,
      grad.offset,
      probs.storage as Float32Array,
      probs.offset,
      scale,
      out,
    );
    return out;
  }

  return { attentionSoftmax, attentionSoftmaxBackward };
}
