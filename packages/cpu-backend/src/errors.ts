/**
 * Errors of @lorakit/cpu-backend. Until the tensor package provides `LorakitError`, the base class is
 * local; subclasses let callers catch by kind.
 */
export class CpuBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Arguments that do not describe a valid product (dims, leading dimensions, lengths, overlap). */
export class GemmArgumentError extends CpuBackendError {}

/** The native addon could not be loaded (not built, no compiler at install, wrong platform). */
export class NativeUnavailableError extends CpuBackendError {}
