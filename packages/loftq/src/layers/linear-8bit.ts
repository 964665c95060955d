import { Conv1D, type Linear } from '@lorakit/nn';
import { dequantizeInt8, type Tensor, tensor } from '@lorakit/tensor';
import { INV_127, int8DequantizeValues, int8QuantizeValues } from '../quant/int8.js';
import { bytesToWords, QuantizedLinear, type QuantizedStorage, wordsToBytes } from './quantized-linear.js';

export interface Linear8bitLtOptions {
  readonly bias?: boolean;
}

/**
 * bitsandbytes' `Linear8bitLt` weight storage (LLM.int8(), Dettmers et al., 2022): one int8 code per
 * weight plus one float32 absmax per output row — 1 + 4/in bytes per weight. Codes equal bitsandbytes'
 * `CB`/`SCB`. Unlike bitsandbytes, the forward pass multiplies the input by the dequantized weight; it
 * does not also quantize activations (no int8 matmul, no outlier threshold).
 */
export class Linear8bitLt extends QuantizedLinear {
  readonly bits = 8 as const;

  constructor(inFeatures: number, outFeatures: number, options: Linear8bitLtOptions = {}) {
    super(inFeatures, outFeatures, options.bias ?? true);
    this.registerBuffers(new Int8Array(this.weightCount), new Float32Array(outFeatures));
  }

  /** Quantizes a float `Linear` (or GPT-2 `Conv1D`, transposed to [out, in]) into a new layer; the bias is copied. */
  static fromLinear(module: Linear | Conv1D): Linear8bitLt {
    const layer = new Linear8bitLt(module.inFeatures, module.outFeatures, { bias: !!module.bias });
    layer.quantizeFrom(module instanceof Conv1D ? module.weight.T : module.weight);
    if (module.bias) layer.bias!.assign(module.bias);
    if (module instanceof Conv1D) layer.sourceLayout = 'conv1d';
    return layer;
  }

  private registerBuffers(codes: Int8Array, absmax: Float32Array): void {
    const bytes = new Uint8Array(codes.buffer, codes.byteOffset, codes.length);
    this.registerBuffer('packed_weight', tensor(bytesToWords(bytes), { dtype: 'int32' }));
    this.registerBuffer('absmax', tensor(absmax));
  }

  /** The int8 codes, row-major [out, in] (bitsandbytes' `CB`). */
  codes(): Int8Array {
    const bytes = wordsToBytes(this.buffer('packed_weight')!, this.weightCount);
    return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** The per-row absmax (bitsandbytes' `SCB`). */
  absmax(): Float32Array {
    return this.buffer('absmax')!.toArray() as Float32Array;
  }

  dequantizeValues(): Float32Array {
    return int8DequantizeValues({ codes: this.codes(), absmax: this.absmax() }, this.inFeatures);
  }

  protected dequantizeOnDevice(): Tensor {
    return dequantizeInt8(this.buffer('packed_weight')!, this.buffer('absmax')!, {
      shape: [this.outFeatures, this.inFeatures],
      scale: INV_127,
    });
  }

  protected storeValues(values: Float32Array): void {
    const { codes, absmax } = int8QuantizeValues(values, this.outFeatures, this.inFeatures);
    this.registerBuffers(codes, absmax);
  }

  fakeQuantize(values: Float32Array): Float32Array {
    return int8DequantizeValues(
      int8QuantizeValues(values, this.outFeatures, this.inFeatures),
      this.inFeatures,
    );
  }

  storage(): QuantizedStorage {
    const codeBytes = this.weightCount;
    const scaleBytes = 4 * this.outFeatures;
    return { codeBytes, scaleBytes, bytesPerWeight: (codeBytes + scaleBytes) / this.weightCount };
  }
}
