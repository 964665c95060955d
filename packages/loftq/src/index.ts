import { registerLoftqInitMethod } from './init-method.js';
import { registerLoftq } from './register.js';

export { LoftqError, QuantizationError } from './errors.js';
export { loftqInitMethod, registerLoftqInitMethod } from './init-method.js';
export { Linear4bit, type Linear4bitOptions } from './layers/linear-4bit.js';
export { Linear8bitLt, type Linear8bitLtOptions } from './layers/linear-8bit.js';
export {
  type OriginalWeightSource,
  QuantizedLinear,
  type QuantizedStorage,
} from './layers/quantized-linear.js';
export {
  type FakeQuantize,
  type LoftqInitOptions,
  type LoftqInitResult,
  type LoftqQuantizer,
  type LoftqSvd,
  loftqFakeQuantizer,
  loftqInit,
  lowRankFactors,
} from './loftq-init.js';
export {
  configureLoftq,
  type LoftqConfig,
  type LoftqSettings,
  loftqStrategy,
  parseLoftqConfig,
} from './loftq-strategy.js';
export { LoraQuantizedLinear } from './lora/lora-quantized-linear.js';
export { type PrepareOptions, type PrepareResult, prepareModelForKbitTraining } from './model/prepare.js';
export {
  allLinearTargets,
  type LoadQuantizedModelOptions,
  loadQuantizedModel,
  type QuantizeModelOptions,
  type QuantizeModelResult,
  quantizedLayers,
  quantizeModel,
} from './model/quantize-model.js';
export {
  type ReplaceLoraWeightsLoftqOptions,
  type ReplaceLoraWeightsLoftqResult,
  replaceLoraWeightsLoftq,
} from './model/replace-lora-weights-loftq.js';
export {
  type Int8Weight,
  int8Dequantize,
  int8DequantizeValues,
  int8Quantize,
  int8QuantizeValues,
} from './quant/int8.js';
export {
  type NFQuantizedWeight,
  NFQuantizer,
  type NFQuantizerMethod,
  type NFQuantizerOptions,
} from './quant/nf-quantizer.js';
export {
  NF4_BLOCKSIZES,
  NF4_CODE,
  type Nf4Weight,
  nf4Dequantize,
  nf4DequantizeValues,
  nf4Quantize,
  nf4QuantizeValues,
} from './quant/nf4.js';
export { normalQuantile } from './quant/normal-quantile.js';
export { registerLoftq } from './register.js';

registerLoftq();
registerLoftqInitMethod();
