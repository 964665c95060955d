export { ModuleError, StateDictError, TrainingError } from './errors.js';
export { ACTIVATIONS, ActivationLayer, Dropout, Identity, LayerNorm, RMSNorm } from './layers/basic.js';
export { ModuleDict, ModuleList, Sequential } from './layers/containers.js';
export { Conv1d, Conv2d, Conv3d, type ConvLayerOptions, ConvNd } from './layers/conv.js';
export { Embedding } from './layers/embedding.js';
export { Conv1D, Linear, type LinearOptions } from './layers/linear.js';
export {
  type AnyModule,
  type ForwardHook,
  type ForwardPreHook,
  type HookHandle,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
} from './module.js';
export { Parameter } from './parameter.js';
