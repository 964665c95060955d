/**
 * Batched float32 and float64 matrix products on the native GEMM (sgemm, dgemm). Every operand view is mapped onto BLAS
 * arguments without copying when it can be: a matrix whose columns are contiguous is op(X) = X with
 * ld = its row stride, one whose rows are contiguous is op(X) = Xᵀ with ld = its column stride (a
 * transposed weight is never copied). Batch dims are merged where their strides allow it and run as one
 * strided-batched call per remaining outer position; a batch-broadcast right operand (stride 0) with a
 * row-contiguous left one folds the whole batch into the rows of a single GEMM. Only a matrix that BLAS
 * cannot describe (both strides ≠ 1, or negative) is copied first.
 *
 * Mixed or other dtypes run on the JavaScript kernel.
 */
import type { Backend, Dtype, JsStorage, View } from '@lorakit/tensor';
import {
  dgemm,
  dgemmStridedBatched,
  type GemmOptions,
  type GemmStridedBatchedOptions,
  sgemm,
  sgemmStridedBatched,
} from '../sgemm.js';
import { allocateOutput } from './allocator.js';
import { checkView, coalesce, rowMajor, sizeOf } from './layout.js';

/** How BLAS sees one stored matrix: op(X) = X (trans false) or Xᵀ, leading dimension ld. */
export interface MatrixLayout {
  readonly trans: boolean;
  readonly ld: number;
}

/**
 * The BLAS description of a rows × cols matrix whose element (i, j) is at i·rowStride + j·colStride, or
 * undefined when none exists (then the caller copies it).
 */
export function matrixLayout(
  rows: number,
  cols: number,
  rowStride: number,
  colStride: number,
): MatrixLayout | undefined {
  if (rowStride < 0 || colStride < 0) return undefined;
  // Columns contiguous (or a single column): stored as is, rows ld apart. ld ≥ cols keeps rows apart.
  if (colStride === 1 || cols === 1) {
    if (rows === 1) return { trans: false, ld: Math.max(cols, 1) };
    if (rowStride >= cols && rowStride > 0) return { trans: false, ld: rowStride };
  }
  // Rows contiguous (or a single row): the transpose is stored, columns ld apart.
  if (rowStride === 1 || rows === 1) {
    if (cols === 1) return { trans: true, ld: Math.max(rows, 1) };
    if (colStride >= rows && colStride > 0) return { trans: true, ld: colStride };
  }
  return undefined;
}

interface Operand {
  readonly data: Float32Array | Float64Array;
  readonly offset: number;
  readonly layout: MatrixLayout;
  /** Element strides of the batch dims (0 where broadcast). */
  readonly batchStrides: readonly number[];
}

// sgemm or dgemm, whose operands all have the output's dtype (checked by the wrappers).
type Gemm = (options: GemmOptions<Float32Array | Float64Array>) => unknown;
type GemmStridedBatched = (options: GemmStridedBatchedOptions<Float32Array | Float64Array>) => unknown;

export function matmulKernel(
  js: Backend<JsStorage>,
  copy: (x: View<JsStorage>, dtype: Dtype) => JsStorage,
): Backend<JsStorage>['matmul'] {
  // A view as a GEMM operand, copied to contiguous first when BLAS cannot describe it.
  function operand(view: View<JsStorage>, rows: number, cols: number, dtype: 'float32' | 'float64'): Operand {
    const rank = view.shape.length;
    const direct = matrixLayout(rows, cols, view.strides[rank - 2]!, view.strides[rank - 1]!);
    if (direct && view.strides.every((s) => s >= 0)) {
      return {
        data: view.storage as Float32Array | Float64Array,
        offset: view.offset,
        layout: direct,
        batchStrides: view.strides.slice(0, -2),
      };
    }
    const data = copy(view, dtype) as Float32Array | Float64Array;
    const strides = rowMajor(view.shape);
    return {
      data,
      offset: 0,
      layout: { trans: false, ld: Math.max(cols, 1) },
      batchStrides: strides.slice(0, -2),
    };
  }

  return function matmul(a: View<JsStorage>, b: View<JsStorage>, outDtype: Dtype): JsStorage {
    const dtype = outDtype;
    if ((dtype !== 'float32' && dtype !== 'float64') || a.dtype !== dtype || b.dtype !== dtype) {
      return js.matmul(a, b, outDtype);
    }
    const [single, batched] =
      dtype === 'float32'
        ? [sgemm as Gemm, sgemmStridedBatched as GemmStridedBatched]
        : [dgemm as Gemm, dgemmStridedBatched as GemmStridedBatched];
    const rank = a.shape.length;
    const m = a.shape[rank - 2]!;
    const k = a.shape[rank - 1]!;
    const n = b.shape[rank - 1]!;
    const batchShape = a.shape.slice(0, -2);
    const size = sizeOf(batchShape) * m * n;
    // An empty inner dimension gives zeros; otherwise the GEMM (beta = 0) writes every element.
    if (size === 0 || k === 0) return dtype === 'float32' ? new Float32Array(size) : new Float64Array(size);
    const out = allocateOutput(dtype, size) as Float32Array | Float64Array;
    checkView('matmul', a);
    checkView('matmul', b);
    const left = operand(a, m, k, dtype);
    const right = operand(b, k, n, dtype);
    const product = { m, n, k, transA: left.layout.trans, transB: right.layout.trans, lda: left.layout.ld };
    const gemm = { ...product, ldb: right.layout.ld, a: left.data, b: right.data, c: out };

    const batch = coalesce(batchShape, [
      left.batchStrides,
      right.batchStrides,
      rowMajor(batchShape).map((s) => s * m * n),
    ]);
    const dims = batch.shape.length;
    if (dims === 0) {
      single({ ...gemm, aOffset: left.offset, bOffset: right.offset });
      return out;
    }
    const [strideA, strideB, strideC] = batch.strides.map((s) => s[dims - 1]!) as [number, number, number];
    const count = batch.shape[dims - 1]!;
    // One B for every product and A's row-major matrices back to back: a single GEMM of count·m rows.
    if (dims === 1 && strideB === 0 && !left.layout.trans && strideA === m * left.layout.ld) {
      single({ ...gemm, m: count * m, aOffset: left.offset, bOffset: right.offset });
      return out;
    }
    const outerShape = batch.shape.slice(0, -1);
    const outerCount = sizeOf(outerShape);
    const position = new Array<number>(outerShape.length).fill(0);
    for (let outer = 0; outer < outerCount; outer++) {
      let aOffset = left.offset;
      let bOffset = right.offset;
      let cOffset = 0;
      for (let d = 0; d < outerShape.length; d++) {
        aOffset += position[d]! * batch.strides[0]![d]!;
        bOffset += position[d]! * batch.strides[1]![d]!;
        cOffset += position[d]! * batch.strides[2]![d]!;
      }
      batched({ ...gemm, batch: count, strideA, strideB, strideC, aOffset, bOffset, cOffset });
      for (let d = outerShape.length - 1; d >= 0; d--) {
        if (++position[d]! < outerShape[d]!) break;
        position[d] = 0;
      }
    }
    return out;
  };
}
