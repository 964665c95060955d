import { LorakitError } from '@lorakit/tensor';

/**
 * An SVD/QR init cannot run on a layer: the base weight has an unsupported dtype or layout, or the rank
 * does not fit the weight. Bad `init_lora_weights` strings and sub-config values are `LoraConfigError`s
 * (from @lorakit/lora), as PEFT raises them as configuration errors.
 */
export class InitError extends LorakitError {}

/** CorDA's preprocessing failed or was skipped: no covariance or eigens for a layer, unreadable files. */
export class CordaError extends LorakitError {}

/** Converting a trained base-mutating adapter to plain LoRA failed (mismatched initial adapter, config). */
export class ConversionError extends LorakitError {}
