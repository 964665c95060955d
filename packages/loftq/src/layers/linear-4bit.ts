import { Conv1D, type Linear } from '@lorakit/nn';
import { dequantize4bit, type Tensor, tensor } from '@lorakit/tensor';
import { nf4Codebook, nf4DequantizeValues, nf4QuantizeValues } from '../quant/nf4.js';
import { bytesToWords, QuantizedLinear, type QuantizedStorage, wordsToBytes } from './quantized-linear.js';

export interface Linear4bitOptions {
  readonly bias?: boolean;
  /** NF4 block size (default 64, bitsandbytes' default). */
  readonly blocksize?: number;
}

/**
 * bitsandbytes' `Linear4bit` with `quant_type="nf4"` and no double quantization: the weight is held as
 * NF4 codes (two per byte, high nibble first) plus one float32 absmax per block of 64 — about
 * 0.5 + 4/64 = 0.5625 bytes per weight. Codes are bit-identical to bitsandbytes'.
 */
export class Linear4bit extends QuantizedLinear {
  readonly bits = 4 as const;
  readonly blocksize: number;

  constructor(inFeatures: number, outFeatures: number, options: Linear4bitOptions = {}) {
    super(inFeatures, outFeatures, options.bias ?? true);
    this.blocksize = options.blocksize ?? 64;
    // An all-zero weight: every code is 7 (the code book's exact zero), every absmax 0.
    this.registerBuffers(
      new Uint8Array(Math.ceil(this.weightCount / 2)).fill(0x77),
      new Float32Array(Math.ceil(this.weightCount / this.blocksize)),
    );
  }

  /** Quantizes a float `Linear` (or GPT-2 `Conv1D`, transposed to [out, in]) into a new layer; the bias is copied. */
  static fromLinear(module: Linear | Conv1D, options: Omit<Linear4bitOptions, 'bias'> = {}): Linear4bit {
    const layer = new Linear4bit(module.inFeatures, module.outFeatures, { ...options, bias: !!module.bias });
    layer.quantizeFrom(module instanceof Conv1D ? module.weight.T : module.weight);
    if (module.bias) layer.bias!.assign(module.bias);
    if (module instanceof Conv1D) layer.sourceLayout = 'conv1d';
    return layer;
  }

  private registerBuffers(packed: Uint8Array, absmax: Float32Array): void {
    const words = this.registerBuffer('packed_weight', tensor(bytesToWords(packed), { dtype: 'int32' }))!;
    this.registerBuffer('absmax', tensor(absmax));
    // Upload the code book now, so that no forward pass has to.
    nf4Codebook(words.backend.name);
  }

  /** The packed NF4 codes, exactly as bitsandbytes stores them (`weight.data` of `Params4bit`, flattened). */
  packedCodes(): Uint8Array {
    return wordsToBytes(this.buffer('packed_weight')!, Math.ceil(this.weightCount / 2));
  }

  /** The per-block absmax (bitsandbytes' `quant_state.absmax`). */
  absmax(): Float32Array {
    return this.buffer('absmax')!.toArray() as Float32Array;
  }

  dequantizeValues(): Float32Array {
    return nf4DequantizeValues(
      { packed: this.packedCodes(), absmax: this.absmax(), blocksize: this.blocksize },
      this.weightCount,
    );
  }

  protected dequantizeOnDevice(): Tensor {
    const packed = this.buffer('packed_weight')!;
    return dequantize4bit(packed, this.buffer('absmax')!, nf4Codebook(packed.backend.name), {
      shape: [this.outFeatures, this.inFeatures],
      blocksize: this.blocksize,
    });
  }

  protected storeValues(values: Float32Array): void {
    const { packed, absmax } = nf4QuantizeValues(values, this.blocksize);
    this.registerBuffers(packed, absmax);
  }

  fakeQuantize(values: Float32Array): Float32Array {
    const quantized = nf4QuantizeValues(values, this.blocksize);
    return nf4DequantizeValues({ ...quantized, blocksize: this.blocksize }, values.length);
  }

  storage(): QuantizedStorage {
    const codeBytes = Math.ceil(this.weightCount / 2);
    const scaleBytes = 4 * Math.ceil(this.weightCount / this.blocksize);
    return { codeBytes, scaleBytes, bytesPerWeight: (codeBytes + scaleBytes) / this.weightCount };
  }

  /** The packed buffer as the tensor it is stored in (int32 words). */
  get packedWeight(): Tensor {
    return this.buffer('packed_weight')!;
  }
}
