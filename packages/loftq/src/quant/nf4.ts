import { type Backend, getBackend, type Tensor, tensor } from '@lorakit/tensor';
import { QuantizationError } from '../errors.js';
import { asFloat32, f32 } from './float32.js';

/**
 * bitsandbytes' NF4 code book (`get_4bit_type("nf4")`): the 16 NormalFloat values of Dettmers et al.
 * (2023), quantiles of N(0, 1) scaled to [−1, 1] with an exact zero, sorted ascending so that a code is
 * the index of its value. float32.
 */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

const codebooks = new WeakMap<Backend, Tensor>();

/**
 * {@link NF4_CODE} as a float32 [16] tensor on `backend` (default: the default backend), uploaded once
 * per backend and kept (exempt from `tidy`): the code book the `dequantize4bit` op reads on the device.
 */
export function nf4Codebook(backend?: string): Tensor {
  const target = getBackend(backend);
  let book = codebooks.get(target);
  if (!book || book.disposed) {
    book = tensor(NF4_CODE, { backend: target.name }).keep();
    codebooks.set(target, book);
  }
  return book;
}

/**
 * Decision boundaries between neighbouring codes, `(code[i] + code[i+1]) / 2` in float32 — the midpoints
 * bitsandbytes' PyTorch backend hands to `bucketize` and, rounded the same way, the constants of its CUDA
 * comparison tree (`dQuantizeNF4`).
 */
const NF4_BOUNDS: Float32Array = Float32Array.from(
  { length: 15 },
  (_, i) => f32(NF4_CODE[i]! + NF4_CODE[i + 1]!) / 2,
);

/** Block sizes bitsandbytes accepts for 4-bit quantization. */
export const NF4_BLOCKSIZES: readonly number[] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/** An NF4-quantized tensor in bitsandbytes' layout (no double quantization). */
export interface Nf4Weight {
  /** Two codes per byte, the earlier element in the high nibble; ⌈n/2⌉ bytes (odd n: the pad code is 7). */
  readonly packed: Uint8Array;
  /** Per-block absolute maximum (float32), ⌈n/blocksize⌉ values; a partial last block has its own. */
  readonly absmax: Float32Array;
  /** Shape of the original tensor (flattened row-major into blocks). */
  readonly shape: readonly number[];
  readonly blocksize: number;
}

/** Smallest scale bitsandbytes divides by (`absmax.clamp(min=1e-38)`), as float32. */
const MIN_ABSMAX = f32(1e-38);

/** Cells of width 1/2048 over [−1, 1] for the code lookup: narrower than any gap between boundaries. */
const CELLS = 4096;

/**
 * The code of each cell's lower edge (the number of boundaries strictly below it). A cell holds at most
 * one boundary, so the code of a value in it is that code or the next one — one comparison, almost always
 * false, instead of a branchy binary search.
 */
const CELL_CODE: Uint8Array = Uint8Array.from({ length: CELLS + 1 }, (_, cell) => {
  const edge = (2 * cell) / CELLS - 1;
  return NF4_BOUNDS.filter((b) => b < edge).length;
});

/**
 * Index of the code nearest to `x` ∈ [−1, 1]: the number of boundaries strictly below it, so a value
 * exactly on a boundary takes the lower code, like `bucketize` and the CUDA comparison tree. (`x + 1` is
 * rounded only when |x| < 2⁻²⁹, far from every boundary, so the cell is always the right one.)
 */
function nearestCode(x: number): number {
  const code = CELL_CODE[Math.floor((x + 1) * (CELLS / 2))]!;
  return code < 15 && x > NF4_BOUNDS[code]! ? code + 1 : code;
}

function checkBlocksize(op: string, blocksize: number): void {
  if (!NF4_BLOCKSIZES.includes(blocksize)) {
    throw new QuantizationError(
      `[${op}] blocksize must be one of ${NF4_BLOCKSIZES.join(', ')}, received ${blocksize}`,
    );
  }
}

/**
 * NF4 quantization of float32 values, bit-exact with bitsandbytes' `quantize_4bit(quant_type="nf4",
 * compress_statistics=False)`: per block `absmax = max|x|`, `x · fl(1/absmax)` clamped to [−1, 1], then the
 * nearest code by midpoint boundaries; packed two per byte, high nibble first.
 */
export function nf4QuantizeValues(
  values: ArrayLike<number>,
  blocksize = 64,
): { packed: Uint8Array; absmax: Float32Array } {
  checkBlocksize('nf4Quantize', blocksize);
  const x = asFloat32(values);
  const n = x.length;
  const blocks = Math.ceil(n / blocksize);
  const absmax = new Float32Array(blocks);
  const packed = new Uint8Array(Math.ceil(n / 2));
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let max = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(x[i]!);
      if (a > max) max = a;
    }
    absmax[b] = max;
    const inverse = f32(1 / Math.max(max, MIN_ABSMAX));
    for (let i = start; i < end; i++) {
      const scaled = f32(x[i]! * inverse);
      const code = nearestCode(Math.min(1, Math.max(-1, scaled)));
      // Element 2j goes to the high nibble of byte j, element 2j+1 to the low nibble.
      if ((i & 1) === 0) packed[i >> 1] = code << 4;
      else packed[i >> 1] = packed[i >> 1]! | code;
    }
  }
  // An odd count pads with a zero, whose code is 7 (the exact zero of the code book).
  if (n % 2 === 1) packed[n >> 1] = packed[n >> 1]! | 7;
  return { packed, absmax };
}

/** `code[q] · absmax` per element in float32 (bitsandbytes' `dequantize_4bit`), into `out` if given. */
export function nf4DequantizeValues(
  weight: Pick<Nf4Weight, 'packed' | 'absmax' | 'blocksize'>,
  size: number,
  out = new Float32Array(size),
): Float32Array {
  const { packed, absmax, blocksize } = weight;
  checkBlocksize('nf4Dequantize', blocksize);
  if (packed.length !== Math.ceil(size / 2) || absmax.length !== Math.ceil(size / blocksize)) {
    throw new QuantizationError(
      `[nf4Dequantize] ${size} values need ${Math.ceil(size / 2)} packed bytes and ${Math.ceil(size / blocksize)} absmax values, received ${packed.length} and ${absmax.length}`,
    );
  }
  for (let b = 0, start = 0; start < size; b++, start += blocksize) {
    const scale = absmax[b]!;
    const end = Math.min(size, start + blocksize);
    // Block sizes are even, so a byte never straddles two blocks.
    for (let i = start; i < end; i += 2) {
      const byte = packed[i >> 1]!;
      out[i] = f32(NF4_CODE[byte >> 4]! * scale);
      if (i + 1 < end) out[i + 1] = f32(NF4_CODE[byte & 15]! * scale);
    }
  }
  return out;
}

/**
 * Quantizes a tensor to NF4 exactly as bitsandbytes does (blocksize 64 by default, absmax per block, no
 * double quantization). The tensor is read to the host once (cast to float32 first).
 *
 * @example
 * ```ts
 * const q = nf4Quantize(weight);            // { packed, absmax, shape, blocksize }
 * const approx = nf4Dequantize(q);          // float32, weight's shape
 * ```
 */
export function nf4Quantize(weight: Tensor, options: { blocksize?: number } = {}): Nf4Weight {
  const blocksize = options.blocksize ?? 64;
  const values = weight.dtype === 'float32' ? weight.toArray() : weight.float().toArray();
  const { packed, absmax } = nf4QuantizeValues(values as Float32Array, blocksize);
  return { packed, absmax, shape: [...weight.shape], blocksize };
}

/** The float32 tensor an {@link nf4Quantize} result stands for (on the default backend unless named). */
export function nf4Dequantize(weight: Nf4Weight, options: { backend?: string } = {}): Tensor {
  const size = weight.shape.reduce((a, b) => a * b, 1);
  return tensor(nf4DequantizeValues(weight, size), { shape: weight.shape, backend: options.backend });
}
