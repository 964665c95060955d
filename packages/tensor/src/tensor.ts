import { backward } from './autograd/backward.js';
import type { GradNode } from './autograd/node.js';
import type { Backend, View } from './backend/kernels.js';
import type { Dtype, HostArray } from './dtype.js';
import { AutogradError, fmtShape, TensorError } from './errors.js';
import * as E from './ops/elementwise.js';
import * as I from './ops/indexing.js';
import * as L from './ops/linalg-ops.js';
import * as M from './ops/matmul.js';
import * as N from './ops/nn.js';
import * as R from './ops/reduce.js';
import * as S from './ops/sorting.js';
import * as V from './ops/view.js';
import { isContiguous, type Shape, sizeOf } from './shape.js';
import { type StorageBox, trackInScope } from './storage.js';

/** A number or a tensor: binary ops accept either on the right. */
export type TensorLike = Tensor | number | boolean;

/**
 * An n-dimensional array on a backend, with autograd.
 *
 * Storage is opaque: a tensor is a strided view (shape, strides, offset) of a backend storage it may share
 * with other views. Host reads are explicit (`toArray()`, `item()`); everything else stays on the
 * backend. Ops record a graph while gradients are enabled and any input requires grad; `backward()`
 * fills `.grad` of the leaves that require grad.
 */
export class Tensor {
  /** @internal */ readonly box: StorageBox;
  readonly dtype: Dtype;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  /** Whether gradients flow to (leaf) or through (non-leaf) this tensor. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after `backward()`. */
  grad: Tensor | null = null;
  /** @internal The op that produced this tensor, while the graph is alive. */
  gradNode: GradNode | null = null;
  /** @internal Exempt from `tidy` disposal. */
  kept = false;
  #disposed = false;

  /** @internal Use the creation functions (`tensor`, `zeros`, …) instead. */
  constructor(box: StorageBox, dtype: Dtype, shape: Shape, strides: readonly number[], offset: number) {
    this.box = box;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    box.retain();
    trackInScope(this);
  }

  get backend(): Backend {
    return this.box.backend;
  }
  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }
  /** A leaf is a tensor not produced by a recorded op (parameters, inputs). */
  get isLeaf(): boolean {
    return this.gradNode === null;
  }
  get disposed(): boolean {
    return this.#disposed;
  }
  /**
   * A counter of in-place writes (`assign`, in-place scatter, fused optimizer steps) into this tensor's
   * storage, shared by all its views, as PyTorch's `_version`. Caches derived from a tensor's values key
   * on the tensor and this number.
   */
  get version(): number {
    return this.box.version;
  }

  /** @internal The kernel-facing view of this tensor. */
  view(): View {
    if (this.#disposed)
      throw new TensorError(`[tensor] a disposed tensor of shape ${fmtShape(this.shape)} was used`);
    return {
      storage: this.box.value,
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      offset: this.offset,
    };
  }

  // ── host reads ──────────────────────────────────────────────────────────────
  /** Copies the values to the host in logical (row-major) order; see {@link HostArray} per dtype. */
  toArray(): HostArray {
    return this.backend.toHost(this.view());
  }
  /** The value of a one-element tensor as a number (bool → 0/1, int64 → number). */
  item(): number {
    if (this.size !== 1) {
      throw new TensorError(`[item] needs a tensor with one element, received shape ${fmtShape(this.shape)}`);
    }
    return Number(this.toArray()[0]);
  }
  /** Nested arrays of numbers (for printing and tests). */
  toList(): unknown {
    const flat = Array.from(this.toArray() as ArrayLike<number | bigint>, Number);
    const build = (dim: number, start: number): unknown => {
      if (dim === this.rank) return flat[start];
      const inner = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, start + i * inner));
    };
    return build(0, 0);
  }
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // ── memory ──────────────────────────────────────────────────────────────────
  /** Releases this tensor's hold on its storage (freed when no view uses it). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.gradNode = null;
    this.box.release();
  }
  /** Exempts this tensor from the enclosing `tidy` scope(s). */
  keep(): this {
    this.kept = true;
    return this;
  }

  // ── autograd ────────────────────────────────────────────────────────────────
  /** Marks a leaf as trainable (or not). */
  setRequiresGrad(flag = true): this {
    if (!this.isLeaf && !flag) {
      throw new AutogradError('[setRequiresGrad] only leaf tensors can stop requiring grad; use detach()');
    }
    this.requiresGrad = flag;
    return this;
  }
  /** Backpropagates from this tensor. Without `grad`, this must hold a single element. */
  backward(grad?: Tensor, options?: { retainGraph?: boolean }): void {
    backward(this, grad, options);
  }
  /** A view of the same data that is cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.box, this.dtype, this.shape, this.strides, this.offset);
  }

  // ── in-place updates (outside the tape: optimizers, weight surgery) ─────────
  /** Writes `src` (broadcast to this shape, converted to this dtype) into this tensor's memory. */
  assign(src: TensorLike): this {
    E.assignInPlace(this, src);
    return this;
  }
  zero(): this {
    return this.assign(0);
  }

  // ── conversions and copies ──────────────────────────────────────────────────
  clone(): Tensor {
    return V.clone(this);
  }
  contiguous(): Tensor {
    return V.contiguous(this);
  }
  /** Converts to another dtype (differentiable between float dtypes). */
  cast(dtype: Dtype): Tensor {
    return E.cast(this, dtype);
  }
  float(): Tensor {
    return E.cast(this, 'float32');
  }
  double(): Tensor {
    return E.cast(this, 'float64');
  }
  /** Moves to another registered backend (a host round trip). */
  toBackend(name: string): Tensor {
    return V.toBackend(this, name);
  }

  // ── views ───────────────────────────────────────────────────────────────────
  reshape(...shape: (number | readonly number[])[]): Tensor {
    return V.reshape(this, V.shapeArgs(shape));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return V.flatten(this, startDim, endDim);
  }
  permute(...dims: (number | readonly number[])[]): Tensor {
    return V.permute(this, V.shapeArgs(dims));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return V.transpose(this, dim0, dim1);
  }
  /** Transpose of a 2-D tensor (the last two dims of a batch). */
  get T(): Tensor {
    return V.transpose(this, -2, -1);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return V.narrow(this, dim, start, length);
  }
  /** Index one position of a dimension, dropping it. */
  select(dim: number, index: number): Tensor {
    return V.select(this, dim, index);
  }
  expand(...shape: (number | readonly number[])[]): Tensor {
    return V.expand(this, V.shapeArgs(shape));
  }
  squeeze(dim?: number | readonly number[]): Tensor {
    return V.squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return V.unsqueeze(this, dim);
  }
  split(sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    return V.split(this, sizeOrSections, dim);
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return V.chunk(this, chunks, dim);
  }

  // ── elementwise ─────────────────────────────────────────────────────────────
  neg(): Tensor {
    return E.unary('neg', this);
  }
  abs(): Tensor {
    return E.unary('abs', this);
  }
  exp(): Tensor {
    return E.unary('exp', this);
  }
  log(): Tensor {
    return E.unary('log', this);
  }
  sqrt(): Tensor {
    return E.unary('sqrt', this);
  }
  rsqrt(): Tensor {
    return E.unary('rsqrt', this);
  }
  sin(): Tensor {
    return E.unary('sin', this);
  }
  cos(): Tensor {
    return E.unary('cos', this);
  }
  tanh(): Tensor {
    return E.unary('tanh', this);
  }
  sigmoid(): Tensor {
    return E.unary('sigmoid', this);
  }
  relu(): Tensor {
    return E.unary('relu', this);
  }
  silu(): Tensor {
    return E.unary('silu', this);
  }
  /** GELU, exact (erf) or with the tanh approximation. */
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return E.unary(approximate === 'tanh' ? 'gelu_tanh' : 'gelu', this);
  }
  erf(): Tensor {
    return E.unary('erf', this);
  }
  sign(): Tensor {
    return E.unary('sign', this);
  }
  square(): Tensor {
    return E.unary('square', this);
  }
  reciprocal(): Tensor {
    return E.unary('reciprocal', this);
  }
  floor(): Tensor {
    return E.unary('floor', this);
  }
  ceil(): Tensor {
    return E.unary('ceil', this);
  }
  round(): Tensor {
    return E.unary('round', this);
  }
  isnan(): Tensor {
    return E.unary('isnan', this);
  }
  isinf(): Tensor {
    return E.unary('isinf', this);
  }
  logicalNot(): Tensor {
    return E.unary('not', this);
  }
  pow(exponent: TensorLike): Tensor {
    return E.pow(this, exponent);
  }
  clamp(min?: number, max?: number): Tensor {
    return E.clamp(this, min, max);
  }
  add(other: TensorLike, alpha?: number): Tensor {
    return E.add(this, other, alpha);
  }
  sub(other: TensorLike, alpha?: number): Tensor {
    return E.sub(this, other, alpha);
  }
  mul(other: TensorLike): Tensor {
    return E.binary('mul', this, other);
  }
  div(other: TensorLike): Tensor {
    return E.binary('div', this, other);
  }
  maximum(other: TensorLike): Tensor {
    return E.binary('maximum', this, other);
  }
  minimum(other: TensorLike): Tensor {
    return E.binary('minimum', this, other);
  }
  eq(other: TensorLike): Tensor {
    return E.binary('eq', this, other);
  }
  ne(other: TensorLike): Tensor {
    return E.binary('ne', this, other);
  }
  lt(other: TensorLike): Tensor {
    return E.binary('lt', this, other);
  }
  le(other: TensorLike): Tensor {
    return E.binary('le', this, other);
  }
  gt(other: TensorLike): Tensor {
    return E.binary('gt', this, other);
  }
  ge(other: TensorLike): Tensor {
    return E.binary('ge', this, other);
  }
  logicalAnd(other: TensorLike): Tensor {
    return E.binary('and', this, other);
  }
  logicalOr(other: TensorLike): Tensor {
    return E.binary('or', this, other);
  }
  /** Elements where `mask` is true are replaced by `value`. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return E.maskedFill(this, mask, value);
  }

  // ── reductions ──────────────────────────────────────────────────────────────
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.sum(this, dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.mean(this, dim, keepdim);
  }
  prod(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.prod(this, dim, keepdim);
  }
  max(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.extreme('max', this, dim, keepdim);
  }
  min(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.extreme('min', this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return R.argReduce('argmax', this, dim, keepdim);
  }
  argmin(dim?: number, keepdim = false): Tensor {
    return R.argReduce('argmin', this, dim, keepdim);
  }
  /** Variance with Bessel's correction by default (`correction: 1`), as PyTorch. */
  var(dim?: number | readonly number[], options?: { correction?: number; keepdim?: boolean }): Tensor {
    return R.variance(this, dim, options);
  }
  std(dim?: number | readonly number[], options?: { correction?: number; keepdim?: boolean }): Tensor {
    return R.variance(this, dim, options).sqrt();
  }
  /** p-norm (default 2; 'fro' = 2; Infinity = max abs) over `dim` (all by default). */
  norm(p: number | 'fro' = 2, dim?: number | readonly number[], keepdim = false): Tensor {
    return R.norm(this, p, dim, keepdim);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return R.logsumexp(this, dim, keepdim);
  }
  any(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.any(this, dim, keepdim);
  }
  all(dim?: number | readonly number[], keepdim = false): Tensor {
    return R.all(this, dim, keepdim);
  }
  softmax(dim: number): Tensor {
    return N.softmax(this, dim);
  }
  logSoftmax(dim: number): Tensor {
    return N.logSoftmax(this, dim);
  }

  // ── products ────────────────────────────────────────────────────────────────
  matmul(other: Tensor): Tensor {
    return M.matmul(this, other);
  }

  // ── indexing ────────────────────────────────────────────────────────────────
  gather(dim: number, index: Tensor): Tensor {
    return I.gather(this, dim, index);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return I.indexSelect(this, dim, index);
  }
  /** Copy of this tensor with `src` added at `index` along `dim` (out[index[i][j]][j] += src[i][j]). */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return I.scatterAdd(this, dim, index, src);
  }
  triu(diagonal = 0): Tensor {
    return I.triu(this, diagonal);
  }
  tril(diagonal = 0): Tensor {
    return I.tril(this, diagonal);
  }

  // ── sorting and order statistics ────────────────────────────────────────────
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    return S.sort(this, dim, descending);
  }
  topk(k: number, dim = -1, largest = true): { values: Tensor; indices: Tensor } {
    return S.topk(this, k, dim, largest);
  }
  /** The k-th smallest element (1-based) along `dim`. */
  kthvalue(k: number, dim = -1, keepdim = false): { values: Tensor; indices: Tensor } {
    return S.kthvalue(this, k, dim, keepdim);
  }
  quantile(q: number, dim?: number, keepdim = false): Tensor {
    return S.quantile(this, q, dim, keepdim);
  }

  // ── linear algebra shortcuts ────────────────────────────────────────────────
  /** Thin SVD of a 2-D tensor. */
  svd(full = false): { u: Tensor; s: Tensor; vh: Tensor } {
    return L.svd(this, { full });
  }
}
