import { LorakitError } from '@lorakit/tensor';

export { listNames } from '@lorakit/tensor';

/** An invalid LoraConfig (bad field values, incompatible options). Messages follow PEFT's. */
export class LoraConfigError extends LorakitError {}

/** target_modules (or exclude_modules/layers_to_transform) selected no module; lists what exists. */
export class NoMatchingModuleError extends LorakitError {}

/** Adapter bookkeeping errors: unknown, duplicate or merged adapters, bad adapter names. */
export class AdapterError extends LorakitError {}

/** Merging failed (NaN/Inf in a safe merge, unsupported layer). */
export class MergeError extends LorakitError {}

/** A file that is not a valid PEFT adapter, or an adapter that does not fit the model. */
export class AdapterFormatError extends LorakitError {}

/** A feature PEFT has that lorakit does not implement (named in the message). */
export class UnsupportedFeatureError extends LorakitError {}

/** A name registered twice, or an unknown name (the message lists the registered ones). */
export class RegistryError extends LorakitError {}
