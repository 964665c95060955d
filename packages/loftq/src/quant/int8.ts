import { decodeFloat16, encodeFloat16 } from '@lorakit/safetensors';
import { type Tensor, tensor } from '@lorakit/tensor';
import { QuantizationError } from '../errors.js';
import { asFloat32, f32, roundHalfEven } from './float32.js';

/** bitsandbytes' reciprocal of 127 used by `int8_vectorwise_dequant`, as the float32 it multiplies by. */
export const INV_127: number = f32(7.874015718698502e-3);

/** A row-wise int8-quantized matrix in bitsandbytes' layout (LLM.int8()'s `CB` and `SCB`). */
export interface Int8Weight {
  /** One int8 code per element, row-major. */
  readonly codes: Int8Array;
  /** Per-row absolute maximum of the float16-rounded row (bitsandbytes' `SCB`), float32. */
  readonly absmax: Float32Array;
  /** [rows, columns]; a tensor of higher rank is quantized as [numel / last, last]. */
  readonly shape: readonly number[];
}

/**
 * Row-wise int8 quantization, bit-exact with bitsandbytes' `Int8Params` (the weight is first rounded to
 * float16, as `Int8Params._quantize` does) followed by `int8_vectorwise_quant` without outlier threshold:
 * `SCB = max|w|` per row, `q = round(w · fl(127 · fl(1 / SCB)))` with ties to even. A row of zeros gets
 * codes 0. The scale is 127 times the float32 reciprocal, not the correctly rounded 127 / SCB: that is what
 * bitsandbytes' CUDA kernel and PyTorch's vectorized `127.0 / absmax` compute, and it decides exact ties
 * (a float16 weight of SCB / 2 is one), which are common.
 */
export function int8QuantizeValues(
  values: ArrayLike<number>,
  rows: number,
  columns: number,
): { codes: Int8Array; absmax: Float32Array } {
  if (rows * columns !== values.length) {
    throw new QuantizationError(
      `[int8Quantize] ${rows} rows × ${columns} columns need ${rows * columns} values, received ${values.length}`,
    );
  }
  const half = decodeFloat16(encodeFloat16(asFloat32(values)));
  const codes = new Int8Array(rows * columns);
  const absmax = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const start = r * columns;
    let max = 0;
    for (let j = 0; j < columns; j++) {
      const a = Math.abs(half[start + j]!);
      if (a > max) max = a;
    }
    absmax[r] = max;
    if (max === 0) continue;
    const scale = f32(127 * f32(1 / max));
    for (let j = 0; j < columns; j++) codes[start + j] = roundHalfEven(f32(half[start + j]! * scale));
  }
  return { codes, absmax };
}

/** `q · SCB · (1/127)` in float32, in bitsandbytes' order of operations (`int8_vectorwise_dequant`). */
export function int8DequantizeValues(
  weight: Pick<Int8Weight, 'codes' | 'absmax'>,
  columns: number,
  out = new Float32Array(weight.codes.length),
): Float32Array {
  const { codes, absmax } = weight;
  if (codes.length !== absmax.length * columns) {
    throw new QuantizationError(
      `[int8Dequantize] ${absmax.length} rows × ${columns} columns need ${absmax.length * columns} codes, received ${codes.length}`,
    );
  }
  for (let r = 0; r < absmax.length; r++) {
    const scale = absmax[r]!;
    const start = r * columns;
    for (let j = 0; j < columns; j++) out[start + j] = f32(f32(codes[start + j]! * scale) * INV_127);
  }
  return out;
}

function rowsAndColumns(op: string, shape: readonly number[]): [number, number] {
  if (shape.length === 0)
    throw new QuantizationError(`[${op}] needs a tensor of rank ≥ 1, received a scalar`);
  const columns = shape[shape.length - 1]!;
  return [shape.reduce((a, b) => a * b, 1) / columns, columns];
}

/**
 * Row-wise int8 quantization as bitsandbytes' `Linear8bitLt` stores weights (see {@link int8QuantizeValues}).
 *
 * @example
 * ```ts
 * const q = int8Quantize(weight);      // { codes, absmax, shape }
 * const approx = int8Dequantize(q);
 * ```
 */
export function int8Quantize(weight: Tensor): Int8Weight {
  const [rows, columns] = rowsAndColumns('int8Quantize', weight.shape);
  const values = weight.dtype === 'float32' ? weight.toArray() : weight.float().toArray();
  const { codes, absmax } = int8QuantizeValues(values as Float32Array, rows, columns);
  return { codes, absmax, shape: [...weight.shape] };
}

/** The float32 tensor an {@link int8Quantize} result stands for. */
export function int8Dequantize(weight: Int8Weight, options: { backend?: string } = {}): Tensor {
  const [, columns] = rowsAndColumns('int8Dequantize', weight.shape);
  return tensor(int8DequantizeValues(weight, columns), { shape: weight.shape, backend: options.backend });
}
