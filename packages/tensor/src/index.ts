import { registerBackend } from './backend/registry.js';
import { createJsBackend } from './backends/js/index.js';

export { checkpoint } from './autograd/checkpoint.js';
export { enableGrad, isGradEnabled, noGrad, noGradAsync } from './autograd/grad-mode.js';
export { GRADIENTS, type GradContext, type GradRule } from './autograd/gradients.js';
export type { GradNode } from './autograd/node.js';
export type {
  AdamWStepOptions,
  AdamWTensors,
  Backend,
  BinaryOp,
  ConvGeometry,
  FlashAttentionOptions,
  IndexBoundsCheck,
  Kernels,
  RandomSpec,
  ReduceOp,
  UnaryOp,
  View,
} from './backend/kernels.js';
export { BINARY_OPS, UNARY_OPS } from './backend/kernels.js';
export {
  getBackend,
  listBackends,
  registerBackend,
  setDefaultBackend,
  unregisterBackend,
  withBackend,
} from './backend/registry.js';
export { createJsBackend } from './backends/js/index.js';
export { allocate as allocateJsStorage, type JsStorage } from './backends/js/storage.js';
export { coalesce as coalesceLayout, type Layout as StridedLayout } from './backends/js/strided.js';
export { DTYPES, type Dtype, type FloatDtype, type HostArray, isFloating, promoteTypes } from './dtype.js';
export {
  AutogradError,
  BackendError,
  DtypeError,
  LinalgError,
  LorakitError,
  listNames,
  ShapeError,
  TensorError,
} from './errors.js';
export { readTensorFile, writeTensorFile } from './io.js';
export {
  type AttentionOptions,
  scaledDotProductAttention,
  scaledDotProductAttentionComposed,
} from './ops/attention.js';
export { type ConvOptions, conv, conv1d, conv2d, conv3d } from './ops/conv.js';
export {
  arange,
  type CreateOptions,
  eye,
  full,
  fullLike,
  linspace,
  ones,
  onesLike,
  tensor,
  zeros,
  zerosLike,
} from './ops/creation.js';
export {
  type Dequantize4bitOptions,
  type DequantizeInt8Options,
  dequantize4bit,
  dequantize4bitComposed,
  dequantizeInt8,
  dequantizeInt8Composed,
} from './ops/dequantize.js';
export { where } from './ops/elementwise.js';
export { embedding } from './ops/indexing.js';
export { eigh, qr, svd, svdLowrank } from './ops/linalg-ops.js';
export {
  LINEAR_CROSS_ENTROPY_CHUNK_BYTES,
  type LinearCrossEntropyOptions,
  linearCrossEntropy,
  linearCrossEntropyChunkRows,
} from './ops/linear-cross-entropy.js';
export { linear, loraLinear, loraLinearComposed, matmul } from './ops/matmul.js';
export {
  type CrossEntropyOptions,
  crossEntropy,
  dropout,
  layerNorm,
  layerNormComposed,
  logSoftmax,
  mseLoss,
  rmsNorm,
  rmsNormComposed,
  softmax,
} from './ops/nn.js';
export { adamwStep, adamwStepComposed, adamwStepMulti } from './ops/optimizer.js';
export { rotary, rotaryComposed, rotateHalf } from './ops/rotary.js';
export { swiglu, swigluComposed } from './ops/swiglu.js';
export { cat, stack, sumToShape } from './ops/view.js';
export { Generator, getDefaultGenerator, manualSeed } from './random/generator.js';
export { philoxBlock } from './random/philox.js';
export {
  bernoulli,
  kaimingUniform,
  type RandomOptions,
  rand,
  randint,
  randn,
  randperm,
} from './random/sampling.js';
export { broadcastShapes, isContiguous, type Shape, sizeOf } from './shape.js';
export { tidy } from './storage.js';
export { Tensor, type TensorLike } from './tensor.js';

registerBackend(createJsBackend('js'), 0);
