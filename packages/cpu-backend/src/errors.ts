import { LorakitError } from '@lorakit/tensor';

/** Errors of @lorakit/cpu-backend; subclasses let callers catch by kind. */
export class CpuBackendError extends LorakitError {}

/** Arguments that do not describe a valid product (dims, leading dimensions, lengths, overlap). */
export class GemmArgumentError extends CpuBackendError {}

/** The native addon could not be loaded (not built, no compiler at install, wrong platform). */
export class NativeUnavailableError extends CpuBackendError {}
