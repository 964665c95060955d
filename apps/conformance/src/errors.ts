import { LorakitError } from '@lorakit/tensor';

/** Bad runner arguments: an unknown option or backend, a missing value (the message lists the choices). */
export class ConformanceError extends LorakitError {}
