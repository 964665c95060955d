import type { WeightAccess } from '@lorakit/lora';
import { Module, ModuleError, Parameter } from '@lorakit/nn';
import { linear, type Tensor, tensor } from '@lorakit/tensor';
import { QuantizationError } from '../errors.js';

/** Where the unquantized weight of a quantized layer can be read again (set by `loadQuantizedModel`). */
export interface OriginalWeightSource {
  /** A checkpoint folder, `.safetensors` file or shard index. */
  readonly path: string;
  /** The tensor name in the model, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  readonly name: string;
  /** The model's base prefix (`model` for Llama), tried off the name when the checkpoint lacks it. */
  readonly basePrefix?: string;
}

/** Memory held by a quantized layer's weight storage (bias excluded). */
export interface QuantizedStorage {
  /** Bytes of codes (packed). */
  readonly codeBytes: number;
  /** Bytes of scales (absmax per block or per row). */
  readonly scaleBytes: number;
  /** (codes + scales) / weights. */
  readonly bytesPerWeight: number;
}

/** Packs bytes into an int32 buffer tensor (the tensor library has no uint8 dtype); same bytes, padded. */
export function bytesToWords(bytes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

/** The bytes an int32 buffer tensor carries (one host read). */
export function wordsToBytes(words: Tensor, length: number): Uint8Array {
  const host = words.toArray() as Int32Array;
  return new Uint8Array(host.buffer, host.byteOffset, length);
}

/**
 * A linear layer whose weight is stored quantized: codes and scales in buffers (`packed_weight` as int32
 * words holding the codes' bytes little-endian, `absmax` as float32), no `weight` parameter. The forward
 * pass dequantizes into a temporary float32 weight on the buffers' backend, with tensor's
 * `dequantize4bit`/`dequantizeInt8` ops (a fused kernel where the backend has one), so a forward reads
 * nothing to the host and uploads nothing — gradients flow to the input (and a trainable bias), never
 * to the codes. Implements lora's {@link WeightAccess}, so LoRA merging and residual inits read the
 * dequantized weight and write by requantizing.
 */
export abstract class QuantizedLinear extends Module implements WeightAccess {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Bits per weight code. */
  abstract readonly bits: 4 | 8;
  /** Where the float weights came from, when known (lets LoftQ re-read them). */
  originalWeight: OriginalWeightSource | undefined;
  /** Layout of the float weight this layer was made from: GPT-2's Conv1D stores it [in, out]. */
  sourceLayout: 'linear' | 'conv1d' = 'linear';

  constructor(inFeatures: number, outFeatures: number, bias: boolean) {
    super();
    for (const [name, value] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new ModuleError(`[${new.target.name}] ${name} must be a positive integer, received ${value}`);
      }
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.registerParameter('bias', bias ? new Parameter(tensor(new Float32Array(outFeatures))) : null);
  }

  get bias(): Parameter | null {
    return this.param('bias');
  }

  /** Number of weights (out × in). */
  get weightCount(): number {
    return this.inFeatures * this.outFeatures;
  }

  /** The dequantized weight values, row-major [out, in], float32 (host; computed on the host). */
  abstract dequantizeValues(): Float32Array;

  /** The dequantized weight [out, in], float32, computed on the backend that holds the buffers. */
  protected abstract dequantizeOnDevice(): Tensor;

  /** Quantizes and stores `values` (row-major [out, in]). */
  protected abstract storeValues(values: Float32Array): void;

  /** Quantizes then dequantizes `values` (row-major [out, in]) in this layer's format, storing nothing. */
  abstract fakeQuantize(values: Float32Array): Float32Array;

  abstract storage(): QuantizedStorage;

  /**
   * The dequantized weight [out, in] as a float32 tensor, computed where the buffers live; moved to
   * `backend` when one is named and differs (a host round trip).
   */
  dequantize(backend?: string): Tensor {
    const weight = this.dequantizeOnDevice();
    return backend === undefined || weight.backend.name === backend ? weight : weight.toBackend(backend);
  }

  /** Quantizes a float weight [out, in] into this layer. */
  quantizeFrom(weight: Tensor): void {
    if (weight.rank !== 2 || weight.shape[0] !== this.outFeatures || weight.shape[1] !== this.inFeatures) {
      throw new QuantizationError(
        `[${this.constructor.name}] weight must have shape [${this.outFeatures}, ${this.inFeatures}], received [${weight.shape.join(', ')}]`,
      );
    }
    const values = (weight.dtype === 'float32' ? weight : weight.float()).toArray() as Float32Array;
    this.storeValues(values);
  }

  readBaseWeight(): Tensor {
    return this.dequantize();
  }

  writeBaseWeight(weight: Tensor): void {
    this.quantizeFrom(weight);
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.dequantize(x.backend.name), this.bias);
  }
}
