import { registerBuiltinInits } from './inits/builtin.js';
import { registerBuiltinDispatchers } from './layers/dispatch.js';
import { registerDora } from './variants/dora.js';

export {
  type Bias,
  FIELD_KEYS,
  type InitLoraWeights,
  LoraConfig,
  type LoraConfigOptions,
  PEFT_VERSION,
  peftInitRewritesBase,
  type SubConfig,
  TASK_TYPES,
  type TaskType,
} from './config/lora-config.js';
export { dumpPythonJson, PyFloat, parsePythonJson, pythonFloatRepr } from './config/python-json.js';
export {
  AdapterError,
  AdapterFormatError,
  LoraConfigError,
  MergeError,
  NoMatchingModuleError,
  RegistryError,
  UnsupportedFeatureError,
} from './errors.js';
export {
  getInitMethod,
  type InitCalibration,
  type InitMethod,
  type InitMethodInput,
  type InitMethodRun,
  type InitMethodValues,
  type InitProgress,
  registeredInitMethods,
  registerInitMethod,
  unregisterInitMethod,
} from './inits/init-methods.js';
export {
  findInitStrategy,
  type InitContext,
  type InitStrategy,
  initializeAdapter,
  registeredInitStrategies,
  registerInitStrategy,
  unregisterInitStrategy,
} from './inits/init-registry.js';
export { initPackageHint } from './inits/plugin-hints.js';
export { adapterTensors, KEY_PREFIX } from './io/adapter-keys.js';
export {
  type AdapterTensorListing,
  checkAdapterFit,
  type LoadAdapterOptions,
  loadAdapter,
  loadAdapterWeights,
  readAdapterConfig,
} from './io/load.js';
export {
  adapterConfigJson,
  architectureOf,
  CONFIG_NAME,
  type SaveOptions,
  saveAdapter,
  WEIGHTS_NAME,
  writeTextAtomically,
} from './io/save.js';
export { BASE_ADAPTER, currentAdapterNames, withAdapterNames } from './layers/adapter-context.js';
export { hasWeightAccess, readBaseWeight, type WeightAccess, writeBaseWeight } from './layers/base-weight.js';
export { findDispatcher, type LayerDispatcher, registerLayerDispatcher } from './layers/dispatch.js';
export { LoraConv } from './layers/lora-conv.js';
export { LoraEmbedding } from './layers/lora-embedding.js';
export {
  type AdapterSpec,
  LoraLayer,
  type LoraLayerKind,
  MagnitudeVector,
  ParameterDict,
} from './layers/lora-layer.js';
export { LoraLinear, linearFeatures } from './layers/lora-linear.js';
export { addWeightedAdapter, weightedAdapterConfig } from './merges/add-weighted-adapter.js';
export {
  getMergeStrategy,
  type MergeLayerContext,
  type MergeSource,
  type MergeStrategy,
  registeredMergeStrategies,
  registerMergeStrategy,
  type WeightedMergeOptions,
} from './merges/merge-registry.js';
export {
  type InjectOptions,
  injectAdapter,
  modelTypeOf,
  resolveTargets,
  type TargetResolution,
} from './model/inject.js';
export { replicateLayers } from './model/layer-replication.js';
export { ModulesToSaveWrapper } from './model/modules-to-save.js';
export {
  type AddAdapterOptions,
  getPeftModel,
  LoraModel,
  type MergeOptions,
  PeftModel,
} from './model/peft-model.js';
export {
  checkTargetModule,
  DEFAULT_TARGET_MODULES,
  layerFilterAccepts,
  minimizeTargetModules,
  resolvePattern,
} from './targeting/match.js';
export { pythonRegex } from './targeting/python-regex.js';
export {
  type LoraVariant,
  registeredVariants,
  registerLoraVariant,
  resolveVariant,
  type VariantRegistration,
} from './variants/variant.js';

registerBuiltinInits();
registerBuiltinDispatchers();
registerDora();
