/**
 * The softmax cross-entropy gradient of the tensor package's `FusedKernels` for float32: one native pass
 * per row, exp of the saved log-probabilities times the row's incoming gradient, minus it at the target
 * (the same exp kernel, product and subtraction as the composed ops). Rows of log-probabilities must be
 * contiguous (log-softmax leaves them so); other layouts and dtypes run on the JavaScript reference.
 */
import type { Backend, JsStorage, View } from '@lorakit/tensor';
import type { NativeBinding } from '../native.js';
import { allocateOutput } from './allocator.js';
import { checkView } from './layout.js';

type Loss = Required<Pick<Backend<JsStorage>, 'softmaxCrossEntropyBackward'>>;

export function lossKernels(native: NativeBinding, js: Backend<JsStorage>): Loss {
  function softmaxCrossEntropyBackward(
    logProbs: View<JsStorage>,
    grad: View<JsStorage>,
    target: View<JsStorage>,
  ) {
    const [rows, classes] = logProbs.shape as [number, number];
    const usable =
      logProbs.dtype === 'float32' &&
      grad.dtype === 'float32' &&
      target.dtype === 'int64' &&
      rows > 0 &&
      classes > 0 &&
      (logProbs.strides[1] === 1 || classes === 1);
    if (!usable) return js.softmaxCrossEntropyBackward!(logProbs, grad, target);
    for (const v of [logProbs, grad, target]) checkView('softmaxCrossEntropyBackward', v);
    const out = allocateOutput('float32', rows * classes) as Float32Array;
    native.softmaxCrossEntropyBackward(
      rows,
      classes,
      logProbs.storage as Float32Array,
      logProbs.offset,
      logProbs.strides[0]!,
      grad.storage as Float32Array,
      grad.offset,
      grad.strides[0]!,
      target.storage as Float64Array,
      target.offset,
      target.strides[0]!,
      out,
    );
    return out;
  }
  return { softmaxCrossEntropyBackward };
}
