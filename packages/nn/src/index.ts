export { ModuleError, StateDictError, TrainingError } from './errors.js';
export { ACTIVATIONS, ActivationLayer, Dropout, Identity, LayerNorm, RMSNorm } from './layers/basic.js';
export { ModuleDict, ModuleList, Sequential } from './layers/containers.js';
export { Conv1d, Conv2d, Conv3d, type ConvLayerOptions, ConvNd } from './layers/conv.js';
export { Embedding } from './layers/embedding.js';
export { Conv1D, Linear, type LinearOptions } from './layers/linear.js';
export { type CausalLmLossOptions, causalLmLoss } from './losses/causal-lm-loss.js';
export { CrossEntropyLoss, type Reduction } from './losses/cross-entropy-loss.js';
export { MSELoss } from './losses/mse-loss.js';
export {
  type AnyModule,
  type ForwardHook,
  type ForwardPreHook,
  type HookHandle,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
} from './module.js';
export { AdamW, type AdamWOptions } from './optim/adamw.js';
export { clipGradNorm } from './optim/clip-grad-norm.js';
export { type LrLambda, LrScheduler, type LrSchedulerState } from './optim/lr-scheduler.js';
export {
  constantSchedule,
  constantScheduleWithWarmup,
  cosineScheduleWithWarmup,
  createLrScheduler,
  linearScheduleWithWarmup,
  listLrSchedules,
  registerLrSchedule,
  type ScheduleFactory,
  type ScheduleOptions,
} from './optim/lr-schedules.js';
export {
  type BaseGroupOptions,
  type HyperparameterValue,
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamGroupState,
  type ParamState,
  type ParamsInput,
} from './optim/optimizer.js';
export {
  type LoadedTrainingState,
  loadOptimizerState,
  saveOptimizerState,
} from './optim/optimizer-checkpoint.js';
export { SGD, type SGDOptions } from './optim/sgd.js';
export { Parameter } from './parameter.js';
export {
  type Metrics,
  type MicroBatchContext,
  type StepInfo,
  type TrainCallbacks,
  type TrainData,
  type TrainOptions,
  type TrainResult,
  train,
} from './training/train.js';
