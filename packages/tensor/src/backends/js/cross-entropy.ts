import type { View } from '../../backend/kernels.js';
import { allocateNumeric, finish, type JsStorage, numeric } from './storage.js';

/**
 * The reference gradient of softmax cross-entropy with respect to the scores, from the saved
 * log-probabilities [N, C] (contiguous or not), the incoming gradient of each row's loss [N] and the
 * targets [N, 1] (int64, in range): `exp(logProbs)·g − onehot(target)·g`, with the roundings of the
 * composed ops (exp, then the product, then the subtraction at the target, each to the dtype).
 */
export function softmaxCrossEntropyBackward(logProbs: View, grad: View, target: View): JsStorage {
  const [rows, classes] = logProbs.shape as [number, number];
  const out = allocateNumeric(logProbs.dtype, rows * classes);
  const lp = numeric(logProbs);
  const g = numeric(grad);
  const t = numeric(target);
  const round = logProbs.dtype === 'float64' ? (v: number) => v : Math.fround;
  for (let i = 0; i < rows; i++) {
    const gi = g.data[g.offset + i * g.strides[0]!]!;
    const base = lp.offset + i * lp.strides[0]!;
    for (let j = 0; j < classes; j++) {
      out[i * classes + j] = round(round(Math.exp(lp.data[base + j * lp.strides[1]!]!)) * gi);
    }
    const at = i * classes + t.data[t.offset + i * t.strides[0]!]!;
    out[at] = round(out[at]! - gi);
  }
  return finish(logProbs.dtype, out);
}
