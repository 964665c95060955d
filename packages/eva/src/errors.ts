import { LorakitError } from '@lorakit/tensor';

/**
 * EVA could not run: an empty dataloader, inputs without the fields the default prepare functions need,
 * layers that received no (or too few) inputs, a state dict that does not fit the model. Invalid
 * `eva_config` values are `LoraConfigError`s (from @lorakit/lora), as PEFT raises them as configuration
 * errors.
 */
export class EvaError extends LorakitError {}

/** The incremental PCA was given data it cannot fit (too few rows or features, a feature-count change). */
export class IncrementalPcaError extends LorakitError {}
