import { LorakitError } from '@lorakit/tensor';

/** Anything wrong with building, loading, running or saving a Hugging Face model. */
export class ModelError extends LorakitError {}

/** `config.json` is missing, malformed, or describes something lorakit does not support. */
export class ConfigError extends ModelError {}

/**
 * The checkpoint does not fit the model: missing weights, shape mismatches, unexpected tensors. The lists
 * are also available as fields.
 */
export class CheckpointError extends ModelError {
  constructor(
    message: string,
    readonly missing: readonly string[] = [],
    readonly unexpected: readonly string[] = [],
    readonly mismatched: readonly string[] = [],
  ) {
    super(message);
  }
}

/** Invalid generation options, or a model that cannot generate. */
export class GenerationError extends ModelError {}

/** `tokenizer.json` is missing or cannot be read. */
export class TokenizerError extends ModelError {}
