/**
 * Strided iteration for the JS kernels. Operands share one logical shape; each has its own strides
 * and offset. Dimensions that are contiguous with respect to every operand are merged first so that the
 * innermost loop runs as long as possible.
 */
export interface Layout {
  readonly shape: readonly number[];
  /** strides[k] = strides of operand k, one per dim. */
  readonly strides: readonly (readonly number[])[];
}

export function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): Layout {
  const dims: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[d]! * shape[d]!)) {
      dims[last] = dims[last]! * shape[d]!;
      for (const [k, s] of strides.entries()) outStrides[k]![last] = s[d]!;
    } else {
      dims.push(shape[d]!);
      for (const [k, s] of strides.entries()) outStrides[k]!.push(s[d]!);
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    for (const list of outStrides) list.push(1);
  }
  return { shape: dims, strides: outStrides };
}

/**
 * Calls `row(offsets, length, innerStrides)` once per innermost row, where `offsets[k]` is operand k's
 * offset of the row's first element. Rows come in logical (row-major) order.
 */
export function forEachRow(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  row: (offsets: number[], length: number, inner: readonly number[]) => void,
): void {
  const layout = coalesce(shape, strides);
  const rank = layout.shape.length;
  if (shape.some((d) => d === 0)) return;
  const length = layout.shape[rank - 1]!;
  const inner = layout.strides.map((s) => s[rank - 1]!);
  const position = new Array<number>(rank - 1).fill(0);
  const current = [...offsets];
  const outer = layout.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  for (let r = 0; r < outer; r++) {
    row(current, length, inner);
    for (let d = rank - 2; d >= 0; d--) {
      position[d]!++;
      layout.strides.forEach((s, k) => {
        current[k]! += s[d]!;
      });
      if (position[d]! < layout.shape[d]!) break;
      layout.strides.forEach((s, k) => {
        current[k]! -= s[d]! * layout.shape[d]!;
      });
      position[d] = 0;
    }
  }
}

/** Row-major strides of a shape. */
export function rowMajor(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}
