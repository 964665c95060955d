import { LorakitError } from '@lorakit/tensor';

/** A quantizer got a value it cannot encode: bad shape, block size, bit width or packed data. */
export class QuantizationError extends LorakitError {}

/** LoftQ misuse: bad `loftq_config`, unsupported layers, no quantized LoRA layer to replace. */
export class LoftqError extends LorakitError {}
