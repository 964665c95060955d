import type { View } from '../../backend/kernels.js';
import type { Dtype } from '../../dtype.js';
import { allocateNumeric, finish, type JsStorage, type NumericView, numeric } from './storage.js';

/** Element i of a 1-D view (any stride and offset). */
function at(view: NumericView, i: number): number {
  return view.data[view.offset + i * view.strides[0]!]!;
}

/**
 * The reference 4-bit lookup dequantization (see `FusedKernels.dequantize4bit`): element i's code is
 * the high nibble of byte i >> 1 for even i and the low nibble for odd i, byte k being
 * `(word[k >> 2] >>> 8·(k & 3)) & 0xff`, and its value is the float32 product
 * `codebook[code] · absmax[⌊i / blocksize⌋]`, rounded once more to `outDtype`.
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
  const { data, offset } = words;
  const stride = words.strides[0] ?? 1;
  const scales = numeric(absmax);
  const book = numeric(codebook);
  const table = Float64Array.from({ length: 16 }, (_, code) => at(book, code));
  // float64 results must still be float32 products; the other dtypes round when stored.
  const out = outDtype === 'float64' ? new Float32Array(size) : allocateNumeric(outDtype, size);
  for (let start = 0, block = 0; start < size; start += blocksize, block++) {
    const scale = at(scales, block);
    const end = Math.min(size, start + blocksize);
    // Block sizes are even, so a byte never straddles two blocks. A product of two float32 values is
    // exact in float64; storing it in a float32 array rounds it once, as a float32 multiply does.
    for (let i = start; i < end; i += 2) {
      const k = i >> 1;
      const byte = (data[offset + (k >> 2) * stride]! >>> ((k & 3) << 3)) & 0xff;
      out[i] = table[byte >> 4]! * scale;
      if (i + 1 < end) out[i + 1] = table[byte & 15]! * scale;
    }
  }
  return outDtype === 'float64' ? Float64Array.from(out) : finish(outDtype, out);
}

/**
 * The reference row-wise int8 dequantization (see `FusedKernels.dequantizeInt8`):
 * `fl32(fl32(q · absmax[row]) · scale)` per element, q the two's-complement byte k of the words
 * (`(word[k >> 2] >>> 8·(k & 3)) & 0xff`), rounded once more to `outDtype`.
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
  const { data, offset } = words;
  const stride = words.strides[0] ?? 1;
  const scales = numeric(absmax);
  const factor = Math.fround(scale);
  const out =
    outDtype === 'float64' ? new Float32Array(rows * columns) : allocateNumeric(outDtype, rows * columns);
  for (let r = 0, k = 0; r < rows; r++) {
    const rowScale = at(scales, r);
    for (let j = 0; j < columns; j++, k++) {
      // Shifting the byte to the top and back sign-extends it.
      const q = ((data[offset + (k >> 2) * stride]! >>> ((k & 3) << 3)) << 24) >> 24;
      out[k] = Math.fround(q * rowScale) * factor;
    }
  }
  return outDtype === 'float64' ? Float64Array.from(out) : finish(outDtype, out);
}
