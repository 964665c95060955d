import { registerEvaInitMethod } from './init-method.js';
import { registerEvaInit } from './strategy.js';

export type { EvaDataloader } from './dataloader.js';
export { EvaError, IncrementalPcaError } from './errors.js';
export { EVA_CONFIG_KEYS, EVA_DEFAULTS, type EvaOptions, evaConfig, readEvaConfig } from './eva-config.js';
export {
  type EvaProgress,
  type EvaStateDict,
  type EvaStateDictOptions,
  getEvaStateDict,
} from './get-eva-state-dict.js';
export { evaInitMethod, registerEvaInitMethod } from './init-method.js';
export {
  type EvaInitialization,
  type InitializeEvaOptions,
  initializeLoraEvaWeights,
  loadEvaStateDict,
} from './initialize-eva-weights.js';
export { IncrementalPca, type IncrementalPcaOptions, svdFlipRows } from './ipca/incremental-pca.js';
export {
  type ForwardFn,
  forwardFnDict,
  type PrepareLayerInputsFn,
  type PrepareModelInputsFn,
  prepareLayerInputsFnDefault,
  prepareLayerInputsFnLanguageModeling,
  prepareModelInputsFnLanguageModeling,
} from './prepare-inputs.js';
export { distributeRanks } from './rank-distribution.js';
export { loadEvaStateDictFile, saveEvaStateDict } from './state-dict-file.js';
export { evaStrategy, registerEvaInit } from './strategy.js';

registerEvaInit();
registerEvaInitMethod();
