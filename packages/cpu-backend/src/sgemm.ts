/**
 * Single- and double-precision GEMM on row-major Float32Arrays (sgemm) and Float64Arrays (dgemm), BLAS
 * semantics:
 *
 *   C[m × n] = alpha · op(A) · op(B) + beta · C,   op(X) = X, or Xᵀ when transX is set.
 *
 * A is m × k (k × m when transA), B is k × n (n × k when transB); element (i, j) of a matrix with
 * leading dimension ld at offset o is array[o + i · ld + j]. beta = 0 overwrites C without reading it (NaN
 * in C does not propagate); alpha = 0 or k = 0 scales C by beta without reading A or B.
 *
 * Everything is validated here; the native layer receives plain, valid arguments.
 */
import { GemmArgumentError } from './errors.js';
import { requireNative } from './native.js';

/** The arrays a GEMM reads and writes: Float32Array for sgemm, Float64Array for dgemm. */
type GemmArray = Float32Array | Float64Array;

export interface GemmOptions<T extends GemmArray> {
  m: number;
  n: number;
  k: number;
  a: T;
  b: T;
  /** Output, updated in place. */
  c: T;
  /** Use Aᵀ: A is stored k × m. Default false. */
  transA?: boolean;
  /** Use Bᵀ: B is stored n × k. Default false. */
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** Default 0 (C is overwritten). */
  beta?: number;
  /** Leading dimension of A as stored. Default: k, or m when transA. */
  lda?: number;
  /** Leading dimension of B as stored. Default: n, or k when transB. */
  ldb?: number;
  /** Leading dimension of C. Default n. */
  ldc?: number;
  /** Index of A's first element in `a`. Default 0. */
  aOffset?: number;
  bOffset?: number;
  cOffset?: number;
}

export interface GemmStridedBatchedOptions<T extends GemmArray> extends GemmOptions<T> {
  /** Number of products; product i reads A at aOffset + i · strideA, B likewise, writes C likewise. */
  batch: number;
  /** Elements between consecutive A matrices; 0 reuses one A for every product. Default: one dense A. */
  strideA?: number;
  /** Elements between consecutive B matrices; 0 reuses one B for every product. Default: one dense B. */
  strideB?: number;
  /** Elements between consecutive C matrices; C blocks must not overlap. Default: m · ldc. */
  strideC?: number;
}

export type SgemmOptions = GemmOptions<Float32Array>;
export type SgemmStridedBatchedOptions = GemmStridedBatchedOptions<Float32Array>;
export type DgemmOptions = GemmOptions<Float64Array>;
export type DgemmStridedBatchedOptions = GemmStridedBatchedOptions<Float64Array>;

/** The element type of one GEMM precision. */
interface Precision<T extends GemmArray> {
  readonly name: string;
  readonly bytes: number;
  readonly is: (value: unknown) => value is T;
}

const FLOAT32: Precision<Float32Array> = {
  name: 'Float32Array',
  bytes: 4,
  is: (value): value is Float32Array => value instanceof Float32Array,
};

const FLOAT64: Precision<Float64Array> = {
  name: 'Float64Array',
  bytes: 8,
  is: (value): value is Float64Array => value instanceof Float64Array,
};

interface Resolved<T extends GemmArray> {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  a: T;
  b: T;
  c: T;
  bytes: number;
  lda: number;
  ldb: number;
  ldc: number;
  aOffset: number;
  bOffset: number;
  cOffset: number;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  return typeof value;
}

function describe(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : typeName(value);
}

function checkCount(op: string, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new GemmArgumentError(
      `[${op}] ${name} must be a non-negative integer, received ${describe(value)}`,
    );
  }
  return value;
}

function checkArray<T extends GemmArray>(
  op: string,
  name: string,
  value: unknown,
  precision: Precision<T>,
): T {
  if (!precision.is(value)) {
    throw new GemmArgumentError(`[${op}] ${name} must be a ${precision.name}, received ${typeName(value)}`);
  }
  return value;
}

function checkScalar(op: string, name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new GemmArgumentError(`[${op}] ${name} must be a number, received ${describe(value)}`);
  }
  return value;
}

function checkFlag(op: string, name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw new GemmArgumentError(`[${op}] ${name} must be a boolean, received ${describe(value)}`);
  }
  return value;
}

/**
 * Checks a leading dimension: a positive integer at least the stored row length. `rowName` is the dim
 * that stored rows have (k for A as stored m × k, and so on); `when` says which storage that is.
 */
function checkLeading(
  op: string,
  name: string,
  value: unknown,
  rowLength: number,
  rowName: string,
  when: string,
): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new GemmArgumentError(`[${op}] ${name} must be a positive integer, received ${describe(value)}`);
  }
  if (value < rowLength) {
    throw new GemmArgumentError(
      `[${op}] ${name} must be >= ${rowName} ${when}, received ${name} ${value} with ${rowName} ${rowLength}`,
    );
  }
  return value;
}

/** Elements a rows × cols matrix with leading dimension ld spans (0 when empty). */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

/** [start, end) element ranges of every matrix a batch touches in one array. */
function extent(offset: number, batch: number, stride: number, one: number): [number, number] {
  if (one === 0 || batch === 0) return [offset, offset];
  return [offset, offset + (batch - 1) * stride + one];
}

function checkLength(
  op: string,
  name: string,
  array: GemmArray,
  end: number,
  shape: string,
  detail: string,
): void {
  if (end > array.length) {
    throw new GemmArgumentError(
      `[${op}] ${name} is too short: ${shape} ${detail} needs ${end} elements, but ${name} has ${array.length}`,
    );
  }
}

/** Two views of one ArrayBuffer whose element ranges intersect. */
function overlaps(
  x: GemmArray,
  xr: [number, number],
  y: GemmArray,
  yr: [number, number],
  bytes: number,
): boolean {
  if (x.buffer !== y.buffer || xr[0] === xr[1] || yr[0] === yr[1]) return false;
  const x0 = x.byteOffset + xr[0] * bytes;
  const x1 = x.byteOffset + xr[1] * bytes;
  const y0 = y.byteOffset + yr[0] * bytes;
  const y1 = y.byteOffset + yr[1] * bytes;
  return x0 < y1 && y0 < x1;
}

function resolve<T extends GemmArray>(
  op: string,
  options: GemmOptions<T>,
  precision: Precision<T>,
): Resolved<T> {
  if (typeof options !== 'object' || options === null) {
    throw new GemmArgumentError(`[${op}] expected an options object, received ${typeName(options)}`);
  }
  const m = checkCount(op, 'm', options.m);
  const n = checkCount(op, 'n', options.n);
  const k = checkCount(op, 'k', options.k);
  const a = checkArray(op, 'a', options.a, precision);
  const b = checkArray(op, 'b', options.b, precision);
  const c = checkArray(op, 'c', options.c, precision);
  const transA = checkFlag(op, 'transA', options.transA);
  const transB = checkFlag(op, 'transB', options.transB);
  const alpha = checkScalar(op, 'alpha', options.alpha, 1);
  const beta = checkScalar(op, 'beta', options.beta, 0);
  const lda = transA
    ? checkLeading(op, 'lda', options.lda ?? Math.max(1, m), m, 'm', 'when A is transposed')
    : checkLeading(op, 'lda', options.lda ?? Math.max(1, k), k, 'k', 'when A is not transposed');
  const ldb = transB
    ? checkLeading(op, 'ldb', options.ldb ?? Math.max(1, k), k, 'k', 'when B is transposed')
    : checkLeading(op, 'ldb', options.ldb ?? Math.max(1, n), n, 'n', 'when B is not transposed');
  const ldc = checkLeading(op, 'ldc', options.ldc ?? Math.max(1, n), n, 'n', 'for C');
  const aOffset = checkCount(op, 'aOffset', options.aOffset ?? 0);
  const bOffset = checkCount(op, 'bOffset', options.bOffset ?? 0);
  const cOffset = checkCount(op, 'cOffset', options.cOffset ?? 0);
  const bytes = precision.bytes;
  return { transA, transB, m, n, k, alpha, beta, a, b, c, bytes, lda, ldb, ldc, aOffset, bOffset, cOffset };
}

/** Checks lengths and C's overlap with A and B for `batch` products (batch 1 for sgemm and dgemm). */
function checkBuffers(
  op: string,
  r: Resolved<GemmArray>,
  batch: number,
  strideA: number,
  strideB: number,
  strideC: number,
): void {
  const [aRows, aCols] = r.transA ? [r.k, r.m] : [r.m, r.k];
  const [bRows, bCols] = r.transB ? [r.n, r.k] : [r.k, r.n];
  const readsAB = r.k > 0 && r.alpha !== 0 && r.m > 0 && r.n > 0;
  const rangeA = extent(r.aOffset, batch, strideA, readsAB ? span(aRows, aCols, r.lda) : 0);
  const rangeB = extent(r.bOffset, batch, strideB, readsAB ? span(bRows, bCols, r.ldb) : 0);
  const rangeC = extent(r.cOffset, batch, strideC, span(r.m, r.n, r.ldc));
  const layout = (ld: string, ldValue: number, offset: number, stride: string, strideValue: number) =>
    `with ${ld} ${ldValue} at offset ${offset}` +
    (batch === 1 ? '' : `, ${batch} matrices ${stride} ${strideValue} apart`);
  checkLength(
    op,
    'a',
    r.a,
    rangeA[1],
    `A (${aRows} × ${aCols})`,
    layout('lda', r.lda, r.aOffset, 'strideA', strideA),
  );
  checkLength(
    op,
    'b',
    r.b,
    rangeB[1],
    `B (${bRows} × ${bCols})`,
    layout('ldb', r.ldb, r.bOffset, 'strideB', strideB),
  );
  checkLength(
    op,
    'c',
    r.c,
    rangeC[1],
    `C (${r.m} × ${r.n})`,
    layout('ldc', r.ldc, r.cOffset, 'strideC', strideC),
  );
  if (overlaps(r.c, rangeC, r.a, rangeA, r.bytes)) {
    throw new GemmArgumentError(
      `[${op}] c must not overlap a: they share an ArrayBuffer and their ranges intersect`,
    );
  }
  if (overlaps(r.c, rangeC, r.b, rangeB, r.bytes)) {
    throw new GemmArgumentError(
      `[${op}] c must not overlap b: they share an ArrayBuffer and their ranges intersect`,
    );
  }
}

/** The strides of a strided batch, checked; C's must keep the C matrices apart. */
function batchStrides<T extends GemmArray>(
  op: string,
  r: Resolved<T>,
  options: GemmStridedBatchedOptions<T>,
): { batch: number; strideA: number; strideB: number; strideC: number } {
  const batch = checkCount(op, 'batch', options.batch);
  const [aRows] = r.transA ? [r.k] : [r.m];
  const [bRows] = r.transB ? [r.n] : [r.k];
  const strideA = checkCount(op, 'strideA', options.strideA ?? aRows * r.lda);
  const strideB = checkCount(op, 'strideB', options.strideB ?? bRows * r.ldb);
  const strideC = checkCount(op, 'strideC', options.strideC ?? r.m * r.ldc);
  const cSpan = span(r.m, r.n, r.ldc);
  if (batch > 1 && strideC < cSpan) {
    throw new GemmArgumentError(
      `[${op}] strideC must be >= ${cSpan} so that the ${batch} C matrices (${r.m} × ${r.n}, ldc ${r.ldc}) do not overlap, received ${strideC}`,
    );
  }
  checkBuffers(op, r, batch, strideA, strideB, strideC);
  return { batch, strideA, strideB, strideC };
}

/** A resolved product as the native binding's leading arguments, in its order. */
function nativeArgs<T extends GemmArray>(r: Resolved<T>) {
  const { transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc } = r;
  return [transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc] as const;
}

/** C = alpha · op(A) · op(B) + beta · C on the native kernels, in float32. Returns `c`. */
export function sgemm(options: SgemmOptions): Float32Array {
  const op = 'sgemm';
  const r = resolve(op, options, FLOAT32);
  checkBuffers(op, r, 1, 0, 0, 0);
  requireNative(op).sgemm(...nativeArgs(r));
  return r.c;
}

/**
 * `batch` independent products C_i = alpha · op(A_i) · op(B_i) + beta · C_i with A_i at aOffset +
 * i · strideA (likewise B, C), in float32. Stride 0 for A or B broadcasts one matrix to every product.
 * Returns `c`.
 */
export function sgemmStridedBatched(options: SgemmStridedBatchedOptions): Float32Array {
  const op = 'sgemmStridedBatched';
  const r = resolve(op, options, FLOAT32);
  const { batch, strideA, strideB, strideC } = batchStrides(op, r, options);
  requireNative(op).sgemmStridedBatched(...nativeArgs(r), batch, strideA, strideB, strideC);
  return r.c;
}

/**
 * C = alpha · op(A) · op(B) + beta · C on the native kernels, in float64 (products accumulate in double;
 * only the order of the additions differs from a plain k loop). Returns `c`.
 */
export function dgemm(options: DgemmOptions): Float64Array {
  const op = 'dgemm';
  const r = resolve(op, options, FLOAT64);
  checkBuffers(op, r, 1, 0, 0, 0);
  requireNative(op).dgemm(...nativeArgs(r));
  return r.c;
}

/** sgemmStridedBatched in float64. Returns `c`. */
export function dgemmStridedBatched(options: DgemmStridedBatchedOptions): Float64Array {
  const op = 'dgemmStridedBatched';
  const r = resolve(op, options, FLOAT64);
  const { batch, strideA, strideB, strideC } = batchStrides(op, r, options);
  requireNative(op).dgemmStridedBatched(...nativeArgs(r), batch, strideA, strideB, strideC);
  return r.c;
}
