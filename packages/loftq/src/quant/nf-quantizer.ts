import { type Tensor, tensor } from '@lorakit/tensor';
import { QuantizationError } from '../errors.js';
import { asFloat32, f32 } from './float32.js';
import { normalQuantile } from './normal-quantile.js';

/** How {@link NFQuantizer} builds its code book and block scales. */
export type NFQuantizerMethod = 'normal' | 'uniform';

export interface NFQuantizerOptions {
  /** Bits per code: 2, 4 or 8 (default 2, as PEFT's constructor). */
  readonly numBits?: number;
  /** 'normal' (NormalFloat code book, absmax scales) or 'uniform' (default 'normal'). */
  readonly method?: NFQuantizerMethod;
  /** Elements per scale (default 64). The element count must be a multiple of it. */
  readonly blockSize?: number;
}

/** An {@link NFQuantizer} result: packed codes, one float32 scale per block, the original shape. */
export interface NFQuantizedWeight {
  /** `8 / numBits` codes per byte, the first element in the lowest bits. */
  readonly packed: Uint8Array;
  readonly scales: Float32Array;
  readonly shape: readonly number[];
}

/**
 * `torch.linspace(start, end, steps)` in float32 as PyTorch's CPU kernel computes it: step =
 * fl((end − start) / (steps − 1)), the first half `start + step·i`, the second half `end − step·(steps−1−i)`,
 * each a fused multiply-add (one rounding).
 */
function linspace32(start: number, end: number, steps: number): number[] {
  const s = f32(start);
  const e = f32(end);
  const step = f32(f32(e - s) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, i) =>
    i < half ? f32(s + step * i) : f32(e - step * (steps - i - 1)),
  );
}

/** Sorts ascending and divides by the largest value, in float32 (`values.sort(); values /= values.max()`). */
function normalizeTable(values: readonly number[]): Float32Array {
  const table = Float32Array.from(values).sort();
  const max = table[table.length - 1]!;
  return table.map((v) => f32(v / max));
}

/**
 * PEFT's own block quantizer for LoftQ (`NFQuantizer` of `peft.utils.loftq_utils` up to v0.18: the 4-bit
 * fallback without bitsandbytes, and 2-/8-bit LoftQ; removed in PEFT 0.20). Code books:
 * - 'normal': NormalFloat with offset 0.9677083 — Φ⁻¹ of `linspace(offset, 0.5, n/2 + 1)` without its
 *   last point, a zero, and −Φ⁻¹ of `linspace(offset, 0.5, n/2)` without its last point; sorted, divided
 *   by the max. The 4-bit book equals bitsandbytes' NF4 table exactly in float32.
 * - 'uniform': `linspace(−1, 1, 2^numBits)`.
 * Blocks of `blockSize` consecutive elements (row-major) are scaled by their absmax ('normal') or by
 * mean + 2.5·std ('uniform', unbiased std); each scaled value takes the nearest code (`argmin`, ties to
 * the lower code). Unlike bitsandbytes it divides by the scale instead of multiplying by its reciprocal,
 * does not clamp, and packs the first element into the lowest bits.
 */
export class NFQuantizer {
  readonly numBits: number;
  readonly method: NFQuantizerMethod;
  readonly blockSize: number;
  /** The code book, ascending, float32. */
  readonly lookupTable: Float32Array;

  constructor(options: NFQuantizerOptions = {}) {
    this.numBits = options.numBits ?? 2;
    this.method = options.method ?? 'normal';
    this.blockSize = options.blockSize ?? 64;
    if (![2, 4, 8].includes(this.numBits)) {
      throw new QuantizationError(`[NFQuantizer] numBits must be 2, 4 or 8, received ${this.numBits}`);
    }
    if (!Number.isInteger(this.blockSize) || this.blockSize <= 0) {
      throw new QuantizationError(
        `[NFQuantizer] blockSize must be a positive integer, received ${this.blockSize}`,
      );
    }
    if (this.method === 'normal') this.lookupTable = NFQuantizer.normalMap(this.numBits);
    else if (this.method === 'uniform') this.lookupTable = NFQuantizer.uniformMap(this.numBits);
    else {
      throw new QuantizationError(
        `[NFQuantizer] method must be 'normal' or 'uniform', received ${JSON.stringify(this.method)}`,
      );
    }
  }

  /** PEFT's `create_normal_map(offset, symmetric, num_bits)`. */
  static normalMap(numBits: number, offset = 0.9677083, symmetric = false): Float32Array {
    const variations = 2 ** numBits;
    if (symmetric) {
      const v = linspace32(1 - offset, offset, variations + 1).map(normalQuantile);
      return normalizeTable(v.slice(0, -1).map((x, i) => 0.5 * x + 0.5 * v[i + 1]!));
    }
    // One more positive value than negative ones: the book is asymmetric around its exact zero.
    const positive = linspace32(offset, 0.5, variations / 2 + 1)
      .slice(0, -1)
      .map(normalQuantile);
    const negative = linspace32(offset, 0.5, variations / 2)
      .slice(0, -1)
      .map((p) => -normalQuantile(p));
    return normalizeTable([...positive, 0, ...negative]);
  }

  /** PEFT's `create_uniform_map(symmetric, num_bits)`. */
  static uniformMap(numBits: number, symmetric = false): Float32Array {
    if (symmetric) {
      const half = 2 ** (numBits - 1);
      return Float32Array.from([...linspace32(-1, 0, half), ...linspace32(0, 1, half).slice(1)]);
    }
    return Float32Array.from(linspace32(-1, 1, 2 ** numBits));
  }

  /** Scale of each block: absmax ('normal') or mean + 2.5·unbiased std ('uniform'), float32. */
  private blockScales(x: Float32Array): Float32Array {
    const size = this.blockSize;
    const scales = new Float32Array(x.length / size);
    for (let b = 0; b < scales.length; b++) {
      const start = b * size;
      if (this.method === 'normal') {
        let max = 0;
        for (let i = start; i < start + size; i++) max = Math.max(max, Math.abs(x[i]!));
        scales[b] = max;
      } else {
        let sum = 0;
        for (let i = start; i < start + size; i++) sum += x[i]!;
        const mean = sum / size;
        let squares = 0;
        for (let i = start; i < start + size; i++) squares += (x[i]! - mean) ** 2;
        scales[b] = f32(f32(mean) + f32(2.5 * f32(Math.sqrt(squares / (size - 1)))));
      }
    }
    return scales;
  }

  /** Index of the nearest code (first one on ties, as `argmin`). */
  private nearest(x: number): number {
    const table = this.lookupTable;
    let best = 0;
    let bestDistance = Number.POSITIVE_INFINITY;
    for (let k = 0; k < table.length; k++) {
      const distance = Math.abs(f32(x - table[k]!));
      if (distance < bestDistance) {
        bestDistance = distance;
        best = k;
      }
    }
    return best;
  }

  /** PEFT's `quantize_block`: a 2-D weight whose element count is a multiple of the block size. */
  quantizeBlock(weight: Tensor): NFQuantizedWeight {
    if (weight.rank !== 2) {
      throw new QuantizationError(
        `[NFQuantizer] Only support 2D matrix, but your input has ${weight.rank} dimensions.`,
      );
    }
    const [rows, columns] = weight.shape as [number, number];
    if ((rows * columns) % this.blockSize !== 0) {
      throw new QuantizationError(
        `[NFQuantizer] Weight with shape (${rows} x ${columns}) is not dividable by block size ${this.blockSize}.`,
      );
    }
    const x = asFloat32((weight.dtype === 'float32' ? weight : weight.float()).toArray() as Float32Array);
    const scales = this.blockScales(x);
    const perByte = 8 / this.numBits;
    const packed = new Uint8Array(x.length / perByte);
    for (let i = 0; i < x.length; i++) {
      const code = this.nearest(f32(x[i]! / scales[Math.floor(i / this.blockSize)]!));
      packed[Math.floor(i / perByte)]! |= code << ((i % perByte) * this.numBits);
    }
    return { packed, scales, shape: [rows, columns] };
  }

  /** PEFT's `dequantize_block`: `code · scale` per element, float32. */
  dequantizeBlock(quantized: NFQuantizedWeight, options: { backend?: string } = {}): Tensor {
    const size = quantized.shape.reduce((a, b) => a * b, 1);
    const perByte = 8 / this.numBits;
    const mask = 2 ** this.numBits - 1;
    if (quantized.packed.length * perByte !== size || quantized.scales.length * this.blockSize !== size) {
      throw new QuantizationError(
        `[NFQuantizer] ${size} values need ${size / perByte} packed bytes and ${size / this.blockSize} scales, received ${quantized.packed.length} and ${quantized.scales.length}`,
      );
    }
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const code = (quantized.packed[Math.floor(i / perByte)]! >> ((i % perByte) * this.numBits)) & mask;
      out[i] = f32(this.lookupTable[code]! * quantized.scales[Math.floor(i / this.blockSize)]!);
    }
    return tensor(out, { shape: quantized.shape, backend: options.backend });
  }
}
