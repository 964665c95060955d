import { noGrad } from '../autograd/grad-mode.js';
import { record } from '../autograd/node.js';
import { type Dtype, isFloating, promoteTypes } from '../dtype.js';
import { DtypeError, fmtShape, ShapeError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { broadcastView, commonBackend, wrap } from './core.js';
import { reshape, unsqueeze } from './view.js';

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted to matrices (and the added dim is
 * removed afterwards), batch dims broadcast. Transposed operands stay views: the kernel reads strides.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) {
    throw new ShapeError(
      `[matmul] both operands need at least one dimension, received ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
    );
  }
  const left = a.rank === 1 ? unsqueeze(a, 0) : a;
  const right = b.rank === 1 ? unsqueeze(b, 1) : b;
  let out: Tensor;
  if (left.rank > 2 && right.rank === 2 && left.shape[left.rank - 1] === right.shape[0]) {
    // [..., m, k] · [k, n]: one GEMM over all rows instead of a batch of small ones.
    const rows = reshape(left, [-1, left.shape[left.rank - 1]!]);
    out = reshape(matmul2(rows, right), [...left.shape.slice(0, -1), right.shape[1]!]);
  } else {
    out = matmul2(left, right);
  }
  if (a.rank === 1 && b.rank === 1) return reshape(out, []);
  if (a.rank === 1) return reshape(out, [...out.shape.slice(0, -2), out.shape[out.rank - 1]!]);
  if (b.rank === 1) return reshape(out, out.shape.slice(0, -1));
  return out;
}

function matmul2(a: Tensor, b: Tensor): Tensor {
  const m = a.shape[a.rank - 2]!;
  const k = a.shape[a.rank - 1]!;
  const k2 = b.shape[b.rank - 2]!;
  const n = b.shape[b.rank - 1]!;
  if (k !== k2) {
    throw new ShapeError(
      `[matmul] inner dimensions differ: a is ${fmtShape(a.shape)}, b is ${fmtShape(b.shape)}`,
    );
  }
  if (
    a.dtype !== b.dtype &&
    promoteTypes(a.dtype, b.dtype) !== a.dtype &&
    promoteTypes(a.dtype, b.dtype) !== b.dtype
  ) {
    throw new DtypeError(`[matmul] dtypes ${a.dtype} and ${b.dtype} cannot be combined`);
  }
  const outDtype = promoteTypes(a.dtype, b.dtype);
  const backend = commonBackend('matmul', [a, b]);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const storage = backend.matmul(
    broadcastView(a, [...batch, m, k]),
    broadcastView(b, [...batch, k, n]),
    outDtype,
  );
  return record('matmul', [a, b], wrap(backend, storage, outDtype, [...batch, m, n]));
}

/** `x · wᵀ + bias` with PyTorch's Linear layout (w is [out, in]). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const y = matmul(x, weight.T);
  return bias ? y.add(bias) : y;
}

/**
 * The LoRA linear `x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ` (W [out, in], A [r, in], B [out, r]). Uses the backend's
 * fused kernel (one pass over x) when it has one; {@link loraLinearComposed} is the reference.
 */
export function loraLinear(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  a: Tensor,
  b: Tensor,
  scale: number,
): Tensor {
  const fused = x.backend.loraLinear;
  const dtypes = [weight, a, b, ...(bias ? [bias] : [])].every((t) => t.dtype === x.dtype);
  if (!dtypes && mixedPrecision(x, weight, bias, a, b)) return loraLinearMixed(x, weight, bias, a, b, scale);
  if (!fused || !dtypes || (x.dtype !== 'float32' && x.dtype !== 'float64') || x.rank < 1) {
    return loraLinearComposed(x, weight, bias, a, b, scale);
  }
  const rows = loraRows(x, weight, bias, a, b);
  const result = x.backend.loraLinear!(
    rows.view(),
    weight.view(),
    bias ? bias.view() : null,
    a.view(),
    b.view(),
    scale,
  );
  const hidden = wrap(x.backend, result.hidden, x.dtype, [rows.shape[0]!, a.shape[0]!]);
  const out = wrap(x.backend, result.out, x.dtype, [rows.shape[0]!, weight.shape[0]!]);
  const inputs = [rows, weight, a, b, ...(bias ? [bias] : [])];
  const recorded = record('loraLinear', inputs, out, { scale, hasBias: Boolean(bias) }, [hidden]);
  return reshape(recorded, [...x.shape.slice(0, -1), weight.shape[0]!]);
}

/** Checks that the LoRA linear's shapes fit and its tensors share a backend; x as rows [N, in]. */
function loraRows(x: Tensor, weight: Tensor, bias: Tensor | null, a: Tensor, b: Tensor): Tensor {
  const inFeatures = x.shape[x.rank - 1]!;
  if (
    weight.shape[1] !== inFeatures ||
    a.shape[1] !== inFeatures ||
    b.shape[0] !== weight.shape[0] ||
    b.shape[1] !== a.shape[0]
  ) {
    throw new ShapeError(
      `[loraLinear] shapes do not fit: x ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}, A ${fmtShape(a.shape)}, B ${fmtShape(b.shape)}`,
    );
  }
  commonBackend('loraLinear', [x, weight, a, b, ...(bias ? [bias] : [])]);
  const rows = reshape(x, [-1, inFeatures]);
  return rows;
}

/**
 * A base layer in one float dtype (x, W, b: bfloat16, say) with factors in another (float32 with PEFT's
 * `autocast_adapter_dtype`).
 */
function mixedPrecision(x: Tensor, weight: Tensor, bias: Tensor | null, a: Tensor, b: Tensor): boolean {
  const floats = [x, weight, a, b, ...(bias ? [bias] : [])].every((t) => isFloating(t.dtype));
  return (
    floats &&
    x.rank >= 1 &&
    weight.dtype === x.dtype &&
    (!bias || bias.dtype === x.dtype) &&
    a.dtype === b.dtype &&
    a.dtype !== x.dtype
  );
}

/**
 * PEFT's forward for a base layer and factors of different dtypes, as one recorded op:
 * `out = (x·Wᵀ + b + s·(x'·Aᵀ)·Bᵀ)` rounded to x's dtype, where x' is x cast to the factors' dtype and
 * the base output is widened to it before the sum (PEFT: `result + lora_B(lora_A(x.to(A.dtype))) * s`,
 * then `.to(result.dtype)`). It keeps only x (in its own dtype, shared by every layer reading it) and
 * h = x'·Aᵀ for backward, not the widened copy of x that composing the ops would keep per layer.
 */
function loraLinearMixed(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  a: Tensor,
  b: Tensor,
  scale: number,
): Tensor {
  const rows = loraRows(x, weight, bias, a, b);
  const { out, hidden } = noGrad(() => {
    const base = linear(rows, weight, bias);
    const widenedX = inFactorDtype(rows, a.dtype);
    const h = matmul(widenedX, a.T);
    if (widenedX !== rows) widenedX.dispose();
    const expanded = x.backend.loraExpand?.(base.view(), h.view(), b.T.view(), scale, false) ?? null;
    if (expanded !== null) {
      base.dispose();
      return { out: wrap(x.backend, expanded, x.dtype, [rows.shape[0]!, weight.shape[0]!]), hidden: h };
    }
    const term = matmul(h, b.T).mul(scale);
    const widenedBase = base.cast(a.dtype);
    base.dispose();
    const sum = widenedBase.add(term);
    widenedBase.dispose();
    term.dispose();
    const result = sum.cast(x.dtype);
    sum.dispose();
    return { out: result, hidden: h };
  });
  const inputs = [rows, weight, a, b, ...(bias ? [bias] : [])];
  const recorded = record('loraLinear', inputs, out, { scale, hasBias: Boolean(bias) }, [hidden]);
  return reshape(recorded, [...x.shape.slice(0, -1), weight.shape[0]!]);
}

/**
 * t in the factors' dtype for the LoRA branch (PEFT casts x to lora_A's dtype). A narrower t is left
 * as it is: a product with the factors widens it exactly, and backends read it without a widened copy.
 */
export function inFactorDtype(t: Tensor, factorDtype: Dtype): Tensor {
  return promoteTypes(t.dtype, factorDtype) === factorDtype ? t : t.cast(factorDtype);
}

/** The LoRA linear composed from matmuls (the reference for the fused kernel). */
export function loraLinearComposed(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  a: Tensor,
  b: Tensor,
  scale: number,
): Tensor {
  return linear(x, weight, bias).add(linear(linear(x, a), b).mul(scale));
}
