/**
 * Single-precision GEMM on row-major Float32Arrays, BLAS semantics:
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

export interface SgemmOptions {
  m: number;
  n: number;
  k: number;
  a: Float32Array;
  b: Float32Array;
  /** Output, updated in place. */
  c: Float32Array;
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

export interface SgemmStridedBatchedOptions extends SgemmOptions {
  /** Number of products; product i reads A at aOffset + i · strideA, B likewise, writes C likewise. */
  batch: number;
  /** Elements between consecutive A matrices; 0 reuses one A for every product. Default: one dense A. */
  strideA?: number;
  /** Elements between consecutive B matrices; 0 reuses one B for every product. Default: one dense B. */
  strideB?: number;
  /** Elements between consecutive C matrices; C blocks must not overlap. Default: m · ldc. */
  strideC?: number;
}

interface Resolved {
  transA: boolean;
  transB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  a: Float32Array;
  b: Float32Array;
  c: Float32Array;
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

function checkFloat32(op: string, name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new GemmArgumentError(`[${op}] ${name} must be a Float32Array, received ${typeName(value)}`);
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
  array: Float32Array,
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
function overlaps(x: Float32Array, xr: [number, number], y: Float32Array, yr: [number, number]): boolean {
  if (x.buffer !== y.buffer || xr[0] === xr[1] || yr[0] === yr[1]) return false;
  const x0 = x.byteOffset + xr[0] * 4;
  const x1 = x.byteOffset + xr[1] * 4;
  const y0 = y.byteOffset + yr[0] * 4;
  const y1 = y.byteOffset + yr[1] * 4;
  return x0 < y1 && y0 < x1;
}

function resolve(op: string, options: SgemmOptions): Resolved {
  if (typeof options !== 'object' || options === null) {
    throw new GemmArgumentError(`[${op}] expected an options object, received ${typeName(options)}`);
  }
  const m = checkCount(op, 'm', options.m);
  const n = checkCount(op, 'n', options.n);
  const k = checkCount(op, 'k', options.k);
  const a = checkFloat32(op, 'a', options.a);
  const b = checkFloat32(op, 'b', options.b);
  const c = checkFloat32(op, 'c', options.c);
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
  return { transA, transB, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, aOffset, bOffset, cOffset };
}

/** Checks lengths and C's overlap with A and B for `batch` products (batch 1 for sgemm). */
function checkBuffers(
  op: string,
  r: Resolved,
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
  if (overlaps(r.c, rangeC, r.a, rangeA)) {
    throw new GemmArgumentError(
      `[${op}] c must not overlap a: they share an ArrayBuffer and their ranges intersect`,
    );
  }
  if (overlaps(r.c, rangeC, r.b, rangeB)) {
    throw new GemmArgumentError(
      `[${op}] c must not overlap b: they share an ArrayBuffer and their ranges intersect`,
    );
  }
}

/** C = alpha · op(A) · op(B) + beta · C on the native kernels. Returns `c`. */
export function sgemm(options: SgemmOptions): Float32Array {
  const op = 'sgemm';
  const r = resolve(op, options);
  checkBuffers(op, r, 1, 0, 0, 0);
  requireNative(op).sgemm(
    r.transA,
    r.transB,
    r.m,
    r.n,
    r.k,
    r.alpha,
    r.a,
    r.aOffset,
    r.lda,
    r.b,
    r.bOffset,
    r.ldb,
    r.beta,
    r.c,
    r.cOffset,
    r.ldc,
  );
  return r.c;
}

/**
 * `batch` independent products C_i = alpha · op(A_i) · op(B_i) + beta · C_i with A_i at aOffset +
 * i · strideA (likewise B, C). Stride 0 for A or B broadcasts one matrix to every product. Returns `c`.
 */
export function sgemmStridedBatched(options: SgemmStridedBatchedOptions): Float32Array {
  const op = 'sgemmStridedBatched';
  const r = resolve(op, options);
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
  requireNative(op).sgemmStridedBatched(
    r.transA,
    r.transB,
    r.m,
    r.n,
    r.k,
    r.alpha,
    r.a,
    r.aOffset,
    r.lda,
    r.b,
    r.bOffset,
    r.ldb,
    r.beta,
    r.c,
    r.cOffset,
    r.ldc,
    batch,
    strideA,
    strideB,
    strideC,
  );
  return r.c;
}
