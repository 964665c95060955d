import { registerSvdInitMethods } from './init-methods.js';
import { registerSvdInits } from './register.js';

export {
  type AdapterWeights,
  type ConvertedAdapter,
  convertedConfig,
  convertToLora,
} from './conversion/convert-to-lora.js';
export { type SaveConvertedOptions, saveConvertedAdapter } from './conversion/save-converted-adapter.js';
export {
  CORDA_CONFIG_KEYS,
  CORDA_DEFAULTS,
  type CordaMethod,
  type CordaOptions,
  cordaConfig,
  readCordaConfig,
} from './corda/corda-config.js';
export {
  type CordaDecomposition,
  type CordaEigens,
  cordaDecomposition,
  cropCordaEigens,
  invertSymmetric,
} from './corda/corda-eigens.js';
export { cordaTargets } from './corda/corda-targets.js';
export { cordaEigensOf } from './corda/eigens-store.js';
export {
  type CordaPreprocessResult,
  type CordaTemporaryFields,
  type PreprocessCordaOptions,
  preprocessCorda,
} from './corda/preprocess-corda.js';
export { ConversionError, CordaError, InitError } from './errors.js';
export { initGenerator, withInitGenerator } from './init-generator.js';
export { registerSvdInitMethods, SVD_INIT_METHODS } from './init-methods.js';
export { checkCordaEigens, cordaInit, cordaStrategy } from './inits/corda.js';
export { oloraInit, oloraStrategy } from './inits/olora.js';
export { orthogonalInit, orthogonalStrategy } from './inits/orthogonal.js';
export { PISSA_DTYPE_MESSAGE, pissaInit, pissaStrategy } from './inits/pissa.js';
export { parsePissaNiter, pissaNiterInit, pissaNiterStrategy } from './inits/pissa-niter.js';
export { type ResidualInit, splitSingularTriplets } from './inits/residual-split.js';
export { registerSvdInits, SVD_INIT_STRATEGIES } from './register.js';

registerSvdInits();
registerSvdInitMethods();
