import { noGrad } from '../autograd/grad-mode.js';
import type { Backend } from '../backend/kernels.js';
import type { FloatDtype } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError, TensorError } from '../errors.js';
import { sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { commonBackend, wrap } from './core.js';
import { arange } from './creation.js';
import { where } from './elementwise.js';
import { stack } from './view.js';

/** Options of {@link dequantize4bit}. */
export interface Dequantize4bitOptions {
  /** Shape of the result; its element count is the number of codes. */
  readonly shape: readonly number[];
  /** Consecutive elements sharing one absmax scale: a positive even integer (bitsandbytes: 64). */
  readonly blocksize: number;
  /** Float dtype of the result (default float32); values are computed in float32 and rounded once. */
  readonly dtype?: FloatDtype;
}

/** Options of {@link dequantizeInt8}. */
export interface DequantizeInt8Options {
  /** Shape of the result: rows = elements / last dim, columns = last dim (one absmax per row). */
  readonly shape: readonly number[];
  /** The factor applied after the row scale (bitsandbytes: fl32(1/127)); rounded to float32. */
  readonly scale: number;
  /** Float dtype of the result (default float32); values are computed in float32 and rounded once. */
  readonly dtype?: FloatDtype;
}

const FLOAT_DTYPES: readonly string[] = ['float32', 'float64', 'float16', 'bfloat16'];

function checkShape(op: string, shape: unknown): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TensorError(
      `[${op}] shape must be an array of non-negative integers, received ${String(shape)}`,
    );
  }
  return sizeOf(shape);
}

function checkDtype(op: string, dtype: unknown): FloatDtype {
  if (!FLOAT_DTYPES.includes(dtype as string)) {
    throw new DtypeError(
      `[${op}] dtype must be a float dtype (${FLOAT_DTYPES.join(', ')}), received ${String(dtype)}`,
    );
  }
  return dtype as FloatDtype;
}

/** Checks a 1-D input of a known dtype and length; `what` says what the length counts. */
function checkVector(op: string, name: string, x: Tensor, dtype: string, length: number, what: string): void {
  if (x.dtype !== dtype) {
    const article = dtype.startsWith('int') ? 'an' : 'a';
    throw new DtypeError(`[${op}] ${name} must be ${article} ${dtype} tensor, received ${x.dtype}`);
  }
  if (x.rank !== 1 || x.size !== length) {
    throw new ShapeError(`[${op}] ${name} must be 1-D with ${what}, received ${fmtShape(x.shape)}`);
  }
}

/**
 * Dequantizes 4-bit lookup-table codes (bitsandbytes' NF4 or FP4 layout, no double quantization):
 * `codebook[code] · absmax[block]` per element, in float32. `packed` holds the code bytes in int32
 * words, little-endian, two codes per byte with the earlier element in the high nibble; `absmax` has
 * one float32 scale per block of `blocksize` elements; `codebook` is float32 [16]. Uses the backend's
 * `dequantize4bit` kernel when it has one, {@link dequantize4bitComposed} otherwise; neither reads
 * data to the host. The result is a constant (not differentiable).
 *
 * @example
 * ```ts
 * const weight = dequantize4bit(packedWords, absmax, nf4Codebook, { shape: [out, in], blocksize: 64 });
 * ```
 */
export function dequantize4bit(
  packed: Tensor,
  absmax: Tensor,
  codebook: Tensor,
  options: Dequantize4bitOptions,
): Tensor {
  const { backend, size, dtype } = check4bit(packed, absmax, codebook, options);
  if (!backend.dequantize4bit) return dequantize4bitComposed(packed, absmax, codebook, options);
  const out = backend.dequantize4bit(
    packed.contiguous().view(),
    absmax.contiguous().view(),
    codebook.contiguous().view(),
    size,
    options.blocksize,
    dtype,
  );
  return wrap(backend, out, dtype, [...options.shape]);
}

/** {@link dequantize4bit} composed from required kernels (exact float64 byte arithmetic): the reference. */
export function dequantize4bitComposed(
  packed: Tensor,
  absmax: Tensor,
  codebook: Tensor,
  options: Dequantize4bitOptions,
): Tensor {
  const { backend, size, dtype } = check4bit(packed, absmax, codebook, options);
  return noGrad(() => {
    const bytes = unsignedBytes(packed, Math.ceil(size / 2));
    const high = bytes.div(16).floor();
    const low = bytes.sub(high.mul(16));
    const codes = stack([high, low], 1)
      .reshape([2 * bytes.size])
      .narrow(0, 0, size)
      .cast('int64');
    const blocks = arange(0, size, 1, { dtype: 'float64', backend: backend.name })
      .div(options.blocksize)
      .floor()
      .cast('int64');
    const values = lookup(backend, codebook, codes).mul(lookup(backend, absmax, blocks));
    return values.cast(dtype).reshape([...options.shape]);
  });
}

function check4bit(
  packed: Tensor,
  absmax: Tensor,
  codebook: Tensor,
  options: Dequantize4bitOptions,
): { backend: Backend; size: number; dtype: FloatDtype } {
  const op = 'dequantize4bit';
  const size = checkShape(op, options.shape);
  const { blocksize } = options;
  if (!Number.isInteger(blocksize) || blocksize <= 0 || blocksize % 2 !== 0) {
    throw new TensorError(`[${op}] blocksize must be a positive even integer, received ${blocksize}`);
  }
  const dtype = checkDtype(op, options.dtype ?? 'float32');
  const words = Math.ceil(size / 8);
  checkVector(op, 'packed', packed, 'int32', words, `⌈${size}/8⌉ = ${words} words (8 codes per word)`);
  const blocks = Math.ceil(size / blocksize);
  checkVector(op, 'absmax', absmax, 'float32', blocks, `⌈${size}/${blocksize}⌉ = ${blocks} block scales`);
  checkVector(op, 'codebook', codebook, 'float32', 16, '16 values (one per code)');
  return { backend: commonBackend(op, [packed, absmax, codebook]), size, dtype };
}

/**
 * Dequantizes row-wise int8 codes (bitsandbytes' LLM.int8() `CB`/`SCB`): `fl32(fl32(q · absmax[row]) ·
 * scale)` per element. `codes` holds one signed byte per element in int32 words, little-endian,
 * row-major; `absmax` has one float32 scale per row. Uses the backend's `dequantizeInt8` kernel when it
 * has one, {@link dequantizeInt8Composed} otherwise; neither reads data to the host. The result is a
 * constant (not differentiable).
 *
 * @example
 * ```ts
 * const weight = dequantizeInt8(codeWords, scb, { shape: [out, in], scale: Math.fround(1 / 127) });
 * ```
 */
export function dequantizeInt8(codes: Tensor, absmax: Tensor, options: DequantizeInt8Options): Tensor {
  const { backend, rows, columns, dtype } = checkInt8(codes, absmax, options);
  if (!backend.dequantizeInt8) return dequantizeInt8Composed(codes, absmax, options);
  const out = backend.dequantizeInt8(
    codes.contiguous().view(),
    absmax.contiguous().view(),
    rows,
    columns,
    Math.fround(options.scale),
    dtype,
  );
  return wrap(backend, out, dtype, [...options.shape]);
}

/** {@link dequantizeInt8} composed from required kernels (exact float64 byte arithmetic): the reference. */
export function dequantizeInt8Composed(
  codes: Tensor,
  absmax: Tensor,
  options: DequantizeInt8Options,
): Tensor {
  const { rows, columns, dtype } = checkInt8(codes, absmax, options);
  return noGrad(() => {
    const bytes = unsignedBytes(codes, rows * columns);
    const q = where(bytes.ge(128), bytes.sub(256), bytes).cast('float32').reshape([rows, columns]);
    const values = q.mul(absmax.reshape([rows, 1])).mul(Math.fround(options.scale));
    return values.cast(dtype).reshape([...options.shape]);
  });
}

function checkInt8(
  codes: Tensor,
  absmax: Tensor,
  options: DequantizeInt8Options,
): { backend: Backend; rows: number; columns: number; dtype: FloatDtype } {
  const op = 'dequantizeInt8';
  const size = checkShape(op, options.shape);
  if (options.shape.length === 0) {
    throw new ShapeError(`[${op}] shape must have rank ≥ 1 (its last dim is the row length), received []`);
  }
  const columns = options.shape[options.shape.length - 1]!;
  const rows = columns === 0 ? sizeOf(options.shape.slice(0, -1)) : size / columns;
  if (typeof options.scale !== 'number' || !Number.isFinite(options.scale)) {
    throw new TensorError(`[${op}] scale must be a finite number, received ${String(options.scale)}`);
  }
  const dtype = checkDtype(op, options.dtype ?? 'float32');
  const words = Math.ceil(size / 4);
  checkVector(op, 'codes', codes, 'int32', words, `⌈${size}/4⌉ = ${words} words (4 codes per word)`);
  checkVector(op, 'absmax', absmax, 'float32', rows, `${rows} row scales`);
  return { backend: commonBackend(op, [codes, absmax]), rows, columns, dtype };
}

/**
 * The first `count` bytes of int32 words, little-endian, as float64 values 0…255. Exact: a word read
 * as unsigned is below 2³², and dividing by 256 and flooring drops its low byte exactly.
 */
function unsignedBytes(words: Tensor, count: number): Tensor {
  const signed = words.cast('float64');
  let rest = where(signed.lt(0), signed.add(2 ** 32), signed);
  const bytes: Tensor[] = [];
  for (let k = 0; k < 4; k++) {
    const next = rest.div(256).floor();
    bytes.push(rest.sub(next.mul(256)));
    rest = next;
  }
  return stack(bytes, 1)
    .reshape([4 * words.size])
    .narrow(0, 0, count);
}

/** `table[index]` for an int64 index known to be in range (no bounds check, no host read). */
function lookup(backend: Backend, table: Tensor, index: Tensor): Tensor {
  return wrap(backend, backend.indexSelect(table.view(), 0, index.view()), table.dtype, [index.size]);
}
