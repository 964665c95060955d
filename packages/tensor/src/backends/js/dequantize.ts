import type { View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { allocateNumeric, finish, type JsStorage, type NumericView, numeric } from './storage.js';

/** Element i of a 1-D view (any stride and offset). */
function at(view: NumericView, i: number): number {
  return view.data[view.offset + i * view.strides[0]!]!;
}

/** Byte k of int32 words read little-endian: `(word[k >> 2] >>> 8·(k & 3)) & 0xff`. */
function byteAt(words: NumericView, k: number): number {
  return (at(words, k >> 2) >>> ((k & 3) << 3)) & 0xff;
}

/** A float64 output must still hold the float32 value; the other float dtypes round on their own. */
function store(outDtype: Dtype): (value: number) => number {
  return outDtype === 'float64' ? Math.fround : (value) => value;
}

/**
 * The reference 4-bit lookup dequantization (see `FusedKernels.dequantize4bit`): element i's code is
 * the high nibble of byte i >> 1 for even i and the low nibble for odd i, and its value is the float32
 * product `codebook[code] · absmax[⌊i / blocksize⌋]`, rounded once more to `outDtype`.
 */
export function dequantize4bit(
  packed: View,
  absmax: View,
  codebook: View,
  size: number,
  blocksize: number,
  outDtype: Dtype,
): JsStorage {
  const words = numeric(packed);
  const scales = numeric(absmax);
  const book = numeric(codebook);
  const table = Float64Array.from({ length: 16 }, (_, code) => at(book, code));
  const out = allocateNumeric(outDtype, size);
  const round = store(outDtype);
  for (let start = 0, block = 0; start < size; start += blocksize, block++) {
    const scale = at(scales, block);
    const end = Math.min(size, start + blocksize);
    for (let i = start; i < end; i++) {
      const byte = byteAt(words, i >> 1);
      const code = (i & 1) === 0 ? byte >> 4 : byte & 15;
      // A product of two float32 values in float64 is exact; storing it in a float32 array (or
      // `round`) rounds it once, as a float32 multiply does.
      out[i] = round(table[code]! * scale);
    }
  }
  return finish(outDtype, out);
}

/**
 * The reference row-wise int8 dequantization (see `FusedKernels.dequantizeInt8`):
 * `fl32(fl32(q · absmax[row]) · scale)` per element, q the two's-complement byte, rounded once more
 * to `outDtype`.
 */
export function dequantizeInt8(
  codes: View,
  absmax: View,
  rows: number,
  columns: number,
  scale: number,
  outDtype: Dtype,
): JsStorage {
  const words = numeric(codes);
  const scales = numeric(absmax);
  const factor = Math.fround(scale);
  const out = allocateNumeric(outDtype, rows * columns);
  const round = store(outDtype);
  for (let r = 0, k = 0; r < rows; r++) {
    const rowScale = at(scales, r);
    for (let j = 0; j < columns; j++, k++) {
      const byte = byteAt(words, k);
      const q = byte >= 128 ? byte - 256 : byte;
      out[k] = round(Math.fround(q * rowScale) * factor);
    }
  }
  return finish(outDtype, out);
}
