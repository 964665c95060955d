import { fmtShape, ShapeError, TensorError } from './errors.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(op: string, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ShapeError(
      `[${op}] ${name} must be an array of non-negative integers, received ${JSON.stringify(shape)}`,
    );
  }
  return [...shape];
}

/** NumPy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `[${op}] shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast: dimension ${i - n} is ${da} vs ${db}`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Resolves a possibly negative axis against a rank. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const lo = rank === 0 ? -1 : -rank;
  const hi = rank === 0 ? 0 : rank - 1;
  if (!Number.isInteger(axis) || axis < lo || axis > hi) {
    throw new TensorError(
      `[${op}] dim ${axis} is out of range for a tensor of rank ${rank} (valid: ${lo} to ${hi})`,
    );
  }
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}

/** Resolves `dim` arguments of reductions: undefined = all axes; duplicates are an error. */
export function normalizeAxes(
  op: string,
  dims: number | readonly number[] | undefined,
  rank: number,
): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  const out = list.map((d) => normalizeAxis(op, d, rank));
  if (new Set(out).size !== out.length)
    throw new TensorError(`[${op}] dim ${JSON.stringify(dims)} repeats an axis`);
  return out.sort((x, y) => x - y);
}
