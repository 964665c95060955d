import type { Backend } from '../../backend/kernels.js';
import { fillRandom } from '../../random/philox.js';
import { attentionSoftmax, attentionSoftmaxBackward } from './attention.js';
import { col2im, im2col } from './conv.js';
import { softmaxCrossEntropyBackward } from './cross-entropy.js';
import { dequantize4bit, dequantizeInt8 } from './dequantize.js';
import { assign, binary, copy, gatherLogical, unary, where } from './elementwise.js';
import { layerNorm, loraLinear, rmsNorm } from './fused.js';
import { gather, indexAdd, indexSelect, scatterAdd, scatterAddInPlace, sort } from './indexing.js';
import { eigh, qr, svd } from './linalg.js';
import { matmul } from './matmul.js';
import { adamwStep } from './optimizer.js';
import { argReduce, reduce, softmax } from './reduce.js';
import { rotary } from './rotary.js';
import { allocateNumeric, finish, fromHostArray, type JsStorage, toHostArray } from './storage.js';
import { swiglu, swigluBackward } from './swiglu.js';

/**
 * Creates the JavaScript reference backend: every kernel in plain TypeScript over typed arrays. It is
 * the living definition of the kernel contract — faster backends are tested against it.
 */
export function createJsBackend(name = 'js'): Backend<JsStorage> {
  return {
    name,
    fromHost: fromHostArray,
    toHost: (x) => toHostArray(gatherLogical(x), x.dtype),
    dispose: () => {},
    full(dtype, size, value) {
      const out = allocateNumeric(dtype, size);
      // Fresh typed arrays are zero-filled already (zeros, and every cat's output, skip a pass).
      if (value !== 0 || Object.is(value, -0)) {
        out.fill(dtype === 'bool' ? (value !== 0 ? 1 : 0) : dtype === 'int64' ? Math.trunc(value) : value);
      }
      return finish(dtype, out);
    },
    arange(dtype, start, step, size) {
      const out = allocateNumeric(dtype, size);
      for (let i = 0; i < size; i++) out[i] = start + i * step;
      return finish(dtype, out);
    },
    random(dtype, size, spec, key, counter) {
      const values = new Float64Array(size);
      fillRandom(values, spec, key, counter);
      const out = allocateNumeric(dtype, size);
      out.set(values);
      return finish(dtype, out);
    },
    copy,
    assign,
    unary,
    binary,
    where,
    reduce,
    argReduce,
    softmax,
    matmul,
    gather,
    scatterAdd,
    scatterAddInPlace,
    indexSelect,
    indexAdd,
    sort,
    im2col,
    col2im,
    svd,
    qr,
    eigh,
    rmsNorm,
    layerNorm,
    loraLinear,
    adamwStep,
    rotary,
    swiglu,
    swigluBackward,
    attentionSoftmax,
    attentionSoftmaxBackward,
    softmaxCrossEntropyBackward,
    dequantize4bit,
    dequantizeInt8,
  };
}
